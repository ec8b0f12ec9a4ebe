// The journal's Counters record carries the kernel's totals, states_folded (the state changes its
// quiet path left out) and close_unmatched (closes left out for an RST that did not follow)
// included since issue #14; journals written before end at call_table_full or at states_folded
// and must still read the same.
#include <gtest/gtest.h>

#include "journal/format.h"
#include "journal/reader.h"
#include "report/journal_set.h"
#include "report/report_model.h"
#include "unit/event_builder.h"
#include "unit/journal_test_util.h"

namespace connreset {
namespace {

using namespace connreset::testing;

std::vector<std::byte> with_counters(std::vector<std::byte> file, std::span<const std::byte> payload) {
  // before the end record, where the recorder writes its last counters
  const auto end = journal::encode_record(journal::RecordKind::End, {});
  file.resize(file.size() - end.size());
  const auto rec = journal::encode_record(journal::RecordKind::Counters, payload);
  file.insert(file.end(), rec.begin(), rec.end());
  file.insert(file.end(), end.begin(), end.end());
  return file;
}

TEST(JournalCounters, StatesFoldedRoundTrips_OlderPayloadsReadAsNone) {
  const journal::KernelTotals t{1000, 2, 3, 4567, 89};
  const auto payload = journal::encode_totals(t);
  EXPECT_EQ(payload.size(), journal::kTotalsSize);
  EXPECT_EQ(journal::decode_totals(payload), t);
  // a journal before states_folded: three fields
  const std::vector<std::byte> old(payload.begin(), payload.begin() + journal::kTotalsSizeV1);
  const auto o = journal::decode_totals(old);
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, (journal::KernelTotals{1000, 2, 3, 0, 0}));
  // a journal before close_unmatched: four fields
  const std::vector<std::byte> v2(payload.begin(), payload.begin() + journal::kTotalsSizeV2);
  EXPECT_EQ(journal::decode_totals(v2), (journal::KernelTotals{1000, 2, 3, 4567, 0}));
  // fields a later version appends are skipped, not a reason to drop the totals
  std::vector<std::byte> longer = payload;
  journal::put_u64(longer, 99);
  EXPECT_EQ(journal::decode_totals(longer), t);
  EXPECT_FALSE(journal::decode_totals(std::span(payload).first(20)));
}

// One journal per host, each with one event and the given Counters payload; the report of all.
report::Report report_of_hosts(const std::vector<std::span<const std::byte>>& counters) {
  TempDir tmp;
  const Conn c{11, ep(8080), ep(40000)};
  const std::vector<Event> events{state(1 * kMs, c, task(7, "srv"), tcp::kSynRecv, tcp::kEstablished)};
  std::vector<std::string> dirs;
  for (size_t i = 0; i < counters.size(); ++i) {
    const std::string host = "host-" + std::to_string(i);
    dirs.push_back(tmp.file(host));
    std::filesystem::create_directories(dirs.back());
    write_file(dirs.back() + "/" + journal::file_name(1),
               with_counters(journal_bytes(test_meta(host), events), counters[i]));
  }
  const auto set = report::open_journals(dirs);
  EXPECT_EQ(set.files_read, counters.size());
  report::Report rep = report::build_report(set, report::ReportOptions{});
  EXPECT_EQ(rep.replay.decode_errors, 0u);
  return rep;
}

TEST(JournalCounters, ReportSumsStatesFoldedOfEveryHost_OldJournalsCountZero) {
  // a current journal, and one of a recorder before states_folded (24-byte counters)
  const auto now = journal::encode_totals({10, 1, 0, 40});
  const auto v1 = journal::encode_totals({20, 2, 0, 0});
  const report::Report rep = report_of_hosts({now, std::span(v1).first(journal::kTotalsSizeV1)});
  EXPECT_EQ(rep.stats.events, 30u);
  EXPECT_EQ(rep.stats.lost, 3u);
  EXPECT_EQ(rep.stats.states_folded, 40u);
}

// close_unmatched the same way: summed over hosts, 0 from a journal written before it (32 bytes)
TEST(JournalCounters, ReportSumsCloseUnmatched_JournalsBeforeItCountZero) {
  const auto a = journal::encode_totals({10, 0, 0, 4, 3});
  const auto b = journal::encode_totals({10, 0, 0, 5, 4});
  const auto v2 = journal::encode_totals({10, 0, 0, 6, 99});  // the 99 is cut off below
  const report::Report rep = report_of_hosts({a, b, std::span(v2).first(journal::kTotalsSizeV2)});
  EXPECT_EQ(rep.stats.events, 30u);
  EXPECT_EQ(rep.stats.states_folded, 15u);
  EXPECT_EQ(rep.stats.close_unmatched, 7u);
}

TEST(JournalCounters, ResyncAfterCorruptionLandsOnCountersOfEitherSize) {
  // 24, 32, 40 bytes (this version), and 48: a later version's appended field
  for (const size_t size : {journal::kTotalsSizeV1, journal::kTotalsSizeV2, journal::kTotalsSize,
                            journal::kTotalsSize + 8}) {
    auto payload = journal::encode_totals({5, 0, 0, 6, 7});
    journal::put_u64(payload, 8);
    std::vector<std::byte> file = journal::encode_header(test_meta(), CR_EVENT_VERSION);
    const size_t garbage_at = file.size();
    file.insert(file.end(), 37, std::byte{0x5a});  // no record starts here
    const auto rec = journal::encode_record(journal::RecordKind::Counters, std::span(payload).first(size));
    file.insert(file.end(), rec.begin(), rec.end());
    journal::Reader r(file, "resync");
    ASSERT_TRUE(r.read_header());
    auto got = r.next();
    ASSERT_TRUE(got) << "size " << size;
    EXPECT_EQ(got->kind, journal::RecordKind::Counters);
    EXPECT_EQ(got->offset, garbage_at + 37);
    EXPECT_EQ(journal::decode_totals(got->payload)->events, 5u);
  }
}

}  // namespace
}  // namespace connreset
