// The journal keeps the kernel's record as written (issue 13, item 3), and journals
// written by connreset 0.1 (the decoder's re-encoding of each record, event version 1)
// still explain the same through report's own path.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "connreset.h"
#include "journal/reader.h"
#include "journal/recorder.h"
#include "journal/writer.h"
#include "pipeline/pipeline.h"
#include "report/journal_set.h"
#include "report/report_model.h"
#include "sinks/collecting_sink.h"
#include "unit/event_builder.h"
#include "unit/journal_test_util.h"

namespace connreset {
namespace {

using namespace connreset::testing;

struct Payloads {
  uint16_t event_version = 0;
  uint32_t record_size = 0;
  std::vector<std::vector<std::byte>> events;
};

// Every Event payload of a journal file, copied out.
Payloads event_payloads(const std::string& path) {
  Payloads out;
  std::string err;
  auto f = journal::MappedFile::open(path, &err);
  if (!f) {
    ADD_FAILURE() << err;
    return out;
  }
  journal::Reader r(f->bytes(), path);
  if (!r.read_header()) {
    ADD_FAILURE() << "bad header in " << path << ": " << (r.error() ? r.error()->line() : "");
    return out;
  }
  out.event_version = r.event_version();
  out.record_size = r.meta().record_size;
  while (auto rec = r.next()) {
    if (rec->kind == journal::RecordKind::Event) out.events.emplace_back(rec->payload.begin(), rec->payload.end());
  }
  EXPECT_FALSE(r.error()) << r.error()->line();
  return out;
}

// A record with bytes today's decoder does not look at: the tail of an IPv4
// address, what follows comm's terminator.
cr_event record_with_ignored_bytes() {
  cr_event r{};
  r.type = CR_EV_STATE;
  r.family = 2;
  r.ts_ns = 42;
  r.cookie = 7;
  r.state = CR_TCP_CLOSE_WAIT;
  r.old_state = CR_TCP_ESTABLISHED;
  r.laddr[0] = 127, r.laddr[3] = 1;
  r.raddr[0] = 127, r.raddr[3] = 1;
  for (int i = 4; i < 16; ++i) r.raddr[i] = static_cast<unsigned char>(i);
  std::memcpy(r.comm, "srv\0garbage", 11);
  return r;
}

TEST(JournalRaw, RecorderJournalsTheKernelsRecordByteForByte) {
  TempDir tmp;
  const cr_event r = record_with_ignored_bytes();
  const auto raw = std::as_bytes(std::span(&r, 1));
  const auto ev = Decoder().decode(raw, nullptr);
  ASSERT_TRUE(ev);
  ASSERT_NE(raw_event(*ev), std::vector<std::byte>(raw.begin(), raw.end()))
      << "the record must hold bytes a re-encoding would lose, or this test proves nothing";
  std::string path;
  {
    journal::Writer w({.dir = tmp.file("j")});
    w.open(test_meta());
    journal::Recorder rec(w, std::nullopt);
    rec.event(*ev, raw);
    rec.event(*ev, {});  // not from the kernel (no raw record): encoded
    ASSERT_EQ(rec.error(), "");
    path = w.current_path();
    w.close();
  }
  const Payloads p = event_payloads(path);
  EXPECT_EQ(p.event_version, CR_EVENT_VERSION);
  EXPECT_EQ(p.record_size, sizeof(cr_event));
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(p.events[0], std::vector<std::byte>(raw.begin(), raw.end()));
  EXPECT_EQ(p.events[1], raw_event(*ev));
}

TEST(JournalRaw, PipelineHandsTheRawRecordToItsObserver) {
  struct Keep : EventObserver {
    std::vector<std::byte> last;
    size_t events = 0;
    void event(const Event&, std::span<const std::byte> raw) override {
      last.assign(raw.begin(), raw.end());
      ++events;
    }
  } keep;
  CollectingSink sink;
  Pipeline p(CorrelatorOptions{}, Filter{}, {&sink});
  p.observe(&keep);
  const cr_event r = record_with_ignored_bytes();
  const auto raw = std::as_bytes(std::span(&r, 1));
  p.on_record(raw);
  EXPECT_EQ(keep.last, std::vector<std::byte>(raw.begin(), raw.end()));
  p.on_event(*Decoder().decode(raw, nullptr));  // an event without a kernel record
  EXPECT_EQ(keep.events, 2u);
  EXPECT_TRUE(keep.last.empty());
}

// An observer that takes raw records (record's journal), behind a pipeline that correlates
// nothing: valid records of this build's size reach it undecoded with their netns, a record
// the decoder would reject is counted and warned about and never reaches it, and a record of
// another size is decoded as before.
TEST(JournalRaw, PipelineHandsCheckedRecordsUndecodedToARawObserver) {
  struct Raw : EventObserver {
    std::vector<std::byte> last;
    uint32_t netns = 0;
    size_t raw = 0, decoded = 0;
    bool wants_decoded() const override { return false; }
    void event(const Event&, std::span<const std::byte>) override { ++decoded; }
    void raw_event(std::span<const std::byte> bytes, uint32_t ns) override {
      last.assign(bytes.begin(), bytes.end());
      netns = ns;
      ++raw;
    }
  } obs;
  struct Quiet : CollectingSink {
    bool wants_explanations() const override { return false; }
  } sink;
  Pipeline p(CorrelatorOptions{}, Filter{}, {&sink});
  p.observe(&obs);
  ASSERT_FALSE(p.correlating());
  cr_event r = record_with_ignored_bytes();
  r.netns = 4026532245u;
  const auto raw = std::as_bytes(std::span(&r, 1));
  p.on_record(raw);
  EXPECT_EQ(obs.raw, 1u);
  EXPECT_EQ(obs.decoded, 0u);
  EXPECT_EQ(obs.netns, 4026532245u);
  EXPECT_EQ(obs.last, std::vector<std::byte>(raw.begin(), raw.end()));
  cr_event bad = r;
  bad.family = 3;
  p.on_record(std::as_bytes(std::span(&bad, 1)));
  EXPECT_EQ(obs.raw, 1u);
  EXPECT_EQ(p.stats().decode_errors, 1u);
  const std::vector<std::string> warned = sink.warnings();
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_NE(warned[0].find("unknown address family 3"), std::string::npos) << warned[0];
  p.on_record(raw.first(Decoder::kRecordSizeV1));  // a v1-sized record: decoded, then observed
  EXPECT_EQ(obs.decoded, 1u);
  EXPECT_EQ(obs.raw, 1u);

  // record --netns: the raw path filters by the record's namespace as event() does
  TempDir tmp;
  journal::Writer w({.dir = tmp.file("j")});
  w.open(test_meta());
  journal::Recorder rec(w, 4026532245u);
  cr_event other = r;
  other.netns = 1;
  rec.raw_event(raw, r.netns);
  rec.raw_event(std::as_bytes(std::span(&other, 1)), other.netns);
  EXPECT_EQ(rec.events_written(), 1u);
  EXPECT_EQ(rec.events_skipped(), 1u);
  const std::string path = w.current_path();
  w.close();
  const Payloads got = event_payloads(path);
  ASSERT_EQ(got.events.size(), 1u);
  EXPECT_EQ(got.events[0], std::vector<std::byte>(raw.begin(), raw.end()));
}

// `record` without --json or --metrics: its only sinks are the journal and stderr warnings,
// neither reads explanations, so the pipeline only decodes and journals (Sink::
// wants_explanations; correlating for nobody was most of record's CPU in a storm). The journal
// holds every event all the same, and report explains it as a correlating pipeline does.
TEST(JournalRaw, RecordWithoutOutputsJournalsEveryEventAndDoesNotCorrelate) {
  TempDir tmp;
  const Conn srv{11, ep(18081), ep(46252)}, cli{22, ep(46252), ep(18081)};
  const std::vector<Event> events = {
      state(1 * kMs, srv, task(4100, "python3"), tcp::kSynRecv, tcp::kEstablished),
      abort_on_close(10 * kMs, srv, task(4100, "python3"), 100),
      rst_received(10 * kMs, cli, task(4100, "python3")),
      call(11 * kMs, cli, task(4121, "curl"), Call::Recv, Phase::Error, -ECONNRESET, 1),
  };
  RunInfo info;
  info.command = "record";
  info.hostname = "host-a";
  const std::string dir = tmp.file("j");
  {
    journal::Writer w({.dir = dir});
    journal::Recorder rec(w, std::nullopt);
    Pipeline p(CorrelatorOptions{}, Filter{}, {&rec});
    p.observe(&rec);
    EXPECT_FALSE(p.correlating());
    p.begin(info);
    for (const Event& ev : events) p.on_event(ev);
    p.tick(10'000 * kMs);
    p.finish();
    EXPECT_EQ(p.stats().sockets_tracked, 0u);
    EXPECT_EQ(p.stats().resets, 0u);
    ASSERT_EQ(rec.error(), "");
    w.close();
  }
  // a sink that reads explanations turns correlation on
  CollectingSink sink;
  Pipeline q(CorrelatorOptions{}, Filter{}, {&sink});
  EXPECT_TRUE(q.correlating());
  for (const Event& ev : events) q.on_event(ev);
  q.finish();
  ASSERT_EQ(sink.matching([](const Explanation&) { return true; }).size(), 1u);
  const Explanation live = sink.matching([](const Explanation&) { return true; })[0];

  const auto set = report::open_journals({dir});
  ASSERT_EQ(set.files_read, 1u);
  const Payloads p = event_payloads(set.sources.at(0).files.at(0).path);
  ASSERT_EQ(p.events.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(p.events[i], raw_event(events[i])) << i;
  const report::Report rep = report::build_report(set, report::ReportOptions{});
  ASSERT_EQ(rep.resets.size(), 1u);
  EXPECT_EQ(rep.resets[0].x.cause, live.cause);
  EXPECT_EQ(rep.resets[0].x.because, live.because);
}

// A journal `connreset record` 0.1 wrote (tests/fixtures/journal-0.1, 9 events): in a
// private network namespace a python3 server closed its end with 100 request bytes
// unread, and the python3 client's recv() got ECONNRESET. Replayed as `report` does.
TEST(JournalRaw, JournalOf01_StillExplainsTheSame) {
  const std::string dir = std::string(CONNRESET_TEST_FIXTURES) + "/journal-0.1";
  const Payloads p = event_payloads(dir + "/connreset-00000001.journal");
  EXPECT_EQ(p.event_version, 1u);
  EXPECT_EQ(p.record_size, 136u);
  EXPECT_EQ(p.events.size(), 9u);

  report::ReportOptions opt;
  const auto set = report::open_journals({dir});
  ASSERT_EQ(set.files_read, 1u);
  const report::Report rep = report::build_report(set, opt);
  EXPECT_TRUE(rep.problems.empty()) << rep.problems.front();
  EXPECT_EQ(rep.stats.decode_errors, 0u);
  EXPECT_EQ(rep.stats.findings, 0u);
  ASSERT_EQ(rep.resets.size(), 1u);
  const Explanation& x = rep.resets[0].x;
  EXPECT_EQ(x.cause, Cause::UnreadDataAtClose);
  EXPECT_EQ(x.rst_reason, "TCP_ABORT_ON_CLOSE");
  EXPECT_EQ(x.unread_bytes, 100u);
  ASSERT_TRUE(x.reset.sender && x.reset.receiver);
  EXPECT_EQ(x.reset.sender->pid, 18146u);
  EXPECT_EQ(x.reset.sender->comm, "python3");
  EXPECT_EQ(x.reset.receiver->pid, 18250u);
  EXPECT_EQ(x.reset.local.str(), "127.0.0.1:54622");
  EXPECT_EQ(x.reset.remote.str(), "127.0.0.1:41999");
  EXPECT_EQ(x.reset.netns, 4026532245u);
  EXPECT_EQ(x.because,
            "python3[18146] close()d its end with 100 unread bytes. Linux answers a close with "
            "unread data with RST instead of FIN and discards that data (RFC 2525 2.17).");
  ASSERT_EQ(x.reset.observed.size(), 1u);
  EXPECT_EQ(x.reset.observed[0].task.pid, 18250u);
  EXPECT_EQ(x.reset.observed[0].result(), "ECONNRESET");
  EXPECT_EQ(rep.resets[0].timeline.size(), 9u);
}

}  // namespace
}  // namespace connreset
