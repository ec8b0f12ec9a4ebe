#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <unistd.h>

#include "journal/reader.h"
#include "unit/event_builder.h"
#include "unit/journal_test_util.h"

namespace connreset {
namespace {

using namespace connreset::testing;
using journal::Reader;
using journal::RecordKind;

const Conn kSock{11, ep(18081), ep(46252)};

std::vector<Event> three_events() {
  const TaskRef server = task(4100, "python3");
  return {call(1 * kMs, kSock, server, Call::Recv, Phase::Data, 100),
          call(2 * kMs, kSock, server, Call::Recv, Phase::Eof, 0),
          abort_on_close(3 * kMs, kSock, server, 20000)};
}

struct ReadAll {
  bool header = false;
  std::vector<Event> events;
  std::optional<journal::ReadError> error;
  bool ended = false;
};

ReadAll read_all(std::span<const std::byte> bytes) {
  ReadAll r;
  Reader reader(bytes, "j");
  r.header = reader.read_header();
  Decoder d;
  while (auto rec = reader.next()) {
    if (rec->kind != RecordKind::Event) continue;
    DecodeError err;
    if (auto ev = d.decode(rec->payload, &err)) r.events.push_back(*ev);
  }
  r.error = reader.error();
  r.ended = reader.saw_end_record();
  return r;
}

TEST(JournalReader, RoundTrip_KeepsEveryEventAndTheHeader) {
  const auto bytes = journal_bytes(test_meta("db-1", 1'700'000'000'000'000'000), three_events());
  Reader reader(bytes, "j");
  ASSERT_TRUE(reader.read_header()) << reader.error()->line();
  EXPECT_EQ(reader.meta().host, "db-1");
  EXPECT_EQ(reader.meta().boot_id, "db-1-boot");
  EXPECT_EQ(reader.meta().clock.realtime_minus_monotonic_ns, 1'700'000'000'000'000'000);
  ASSERT_EQ(reader.meta().probes.size(), 1u);
  const ReadAll r = read_all(bytes);
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[2].unread, 20000u);
  EXPECT_EQ(r.events[2].task.comm, "python3");
  EXPECT_EQ(r.events[1].phase, Phase::Eof);
  EXPECT_TRUE(r.ended);
  EXPECT_FALSE(r.error);
}

TEST(JournalReader, TornAtEveryOffset_KeepsEverythingBeforeAndNamesTheOffset) {
  const auto full = journal_bytes(test_meta(), three_events(), /*end_record=*/false);
  const size_t header = journal::encode_header(test_meta(), CR_EVENT_VERSION).size();
  const size_t rec = journal::kFrameSize + Decoder::kRecordSize;
  for (size_t cut = header; cut < full.size(); ++cut) {
    const ReadAll r = read_all(std::span(full).first(cut));
    const size_t whole = (cut - header) / rec;
    ASSERT_EQ(r.events.size(), whole) << "cut at " << cut;
    if ((cut - header) % rec == 0) {
      EXPECT_FALSE(r.error) << "cut at a record boundary is a clean end";
    } else {
      ASSERT_TRUE(r.error) << "cut at " << cut;
      EXPECT_EQ(r.error->offset, header + whole * rec);
      EXPECT_NE(r.error->message.find("torn record"), std::string::npos) << r.error->message;
    }
  }
}

TEST(JournalReader, FlippedPayloadByte_SkipsThatRecordAndReadsTheRest) {
  auto bytes = journal_bytes(test_meta(), three_events());
  const size_t header = journal::encode_header(test_meta(), CR_EVENT_VERSION).size();
  const size_t rec = journal::kFrameSize + Decoder::kRecordSize;
  bytes[header + rec + journal::kFrameSize + 5] ^= std::byte{0x40};  // second record's payload
  Reader reader(bytes, "j");
  ASSERT_TRUE(reader.read_header());
  size_t events = 0;
  while (auto r = reader.next()) events += r->kind == RecordKind::Event;
  EXPECT_EQ(events, 2u) << "the records after the corrupt one are read";
  EXPECT_FALSE(reader.error());
  ASSERT_EQ(reader.problems().size(), 1u);
  EXPECT_EQ(reader.problems()[0].offset, header + rec);
  EXPECT_NE(reader.problems()[0].message.find("checksum"), std::string::npos);
  EXPECT_NE(reader.problems()[0].message.find("skipped " + std::to_string(rec) + " bytes"), std::string::npos)
      << reader.problems()[0].message;
  EXPECT_EQ(reader.corrupt_regions(), 1u);
  EXPECT_EQ(reader.skipped_bytes(), rec);
  EXPECT_TRUE(reader.saw_end_record());
}

TEST(JournalReader, HugeLengthField_IsCorruptNotAnAllocation) {
  auto bytes = journal_bytes(test_meta(), three_events());
  const size_t header = journal::encode_header(test_meta(), CR_EVENT_VERSION).size();
  bytes[header + 3] = std::byte{0x7f};  // length ~2 GiB
  Reader reader(bytes, "j");
  ASSERT_TRUE(reader.read_header());
  size_t events = 0;
  while (auto r = reader.next()) events += r->kind == RecordKind::Event;
  EXPECT_EQ(events, 2u);
  ASSERT_EQ(reader.problems().size(), 1u);
  EXPECT_EQ(reader.problems()[0].offset, header);
  EXPECT_NE(reader.problems()[0].message.find("exceeds the limit"), std::string::npos);
}

TEST(JournalReader, GarbageBetweenRecords_ResyncsOnTheNextValidRecordAndCountsIt) {
  auto bytes = journal_bytes(test_meta(), three_events());
  const size_t header = journal::encode_header(test_meta(), CR_EVENT_VERSION).size();
  const size_t rec = journal::kFrameSize + Decoder::kRecordSize;
  std::vector<std::byte> junk(37);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<std::byte>(i * 7 + 1);
  bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(header + rec), junk.begin(), junk.end());
  const ReadAll r = read_all(bytes);
  EXPECT_EQ(r.events.size(), 3u);
  EXPECT_TRUE(r.ended);
  Reader reader(bytes, "j");
  ASSERT_TRUE(reader.read_header());
  while (reader.next()) {
  }
  EXPECT_EQ(reader.skipped_bytes(), 37u);
}

TEST(JournalReader, CorruptTail_SaysNothingValidAfterIt) {
  auto bytes = journal_bytes(test_meta(), three_events(), /*end_record=*/false);
  const size_t header = journal::encode_header(test_meta(), CR_EVENT_VERSION).size();
  const size_t rec = journal::kFrameSize + Decoder::kRecordSize;
  bytes[header + 2 * rec + 20] ^= std::byte{1};  // the last record
  const ReadAll r = read_all(bytes);
  EXPECT_EQ(r.events.size(), 2u);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->offset, header + 2 * rec);
  EXPECT_NE(r.error->message.find("nothing valid after it"), std::string::npos) << r.error->message;
}

TEST(JournalReader, RecordsAfterTheEndRecord_AreReadAndCounted) {
  auto bytes = journal_bytes(test_meta(), three_events());
  const auto extra = journal::encode_record(RecordKind::Event, raw_event(three_events()[0]));
  bytes.insert(bytes.end(), extra.begin(), extra.end());
  Reader reader(bytes, "j");
  ASSERT_TRUE(reader.read_header());
  size_t events = 0;
  while (auto r = reader.next()) events += r->kind == RecordKind::Event;
  EXPECT_EQ(events, 4u);
  EXPECT_EQ(reader.records_after_end(), 1u);
}

TEST(JournalReader, Seek_LandsOnTheNextRecordFromAnyOffset) {
  std::vector<Event> many;
  for (int i = 0; i < 50; ++i) many.push_back(three_events()[i % 3]);
  const auto bytes = journal_bytes(test_meta(), many);
  const size_t header = journal::encode_header(test_meta(), CR_EVENT_VERSION).size();
  const size_t rec = journal::kFrameSize + Decoder::kRecordSize;
  Reader reader(bytes, "j");
  ASSERT_TRUE(reader.read_header());
  reader.seek(header + 10 * rec + 3);
  auto r = reader.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->offset, header + 11 * rec);
  EXPECT_EQ(reader.corrupt_regions(), 0u);
}

// A journal truncated while report reads it (logrotate, a full disk, a
// recorder's directory cleaned up): a mapping faulted with SIGBUS here; pread
// sees a shorter file and the reader reports a torn record at that offset.
TEST(JournalReader, FileShrinkingWhileRead_IsATornRecordNotAFault) {
  TempDir dir;
  std::vector<Event> many;
  for (int i = 0; i < 2000; ++i) many.push_back(three_events()[i % 3]);
  write_file(dir.file("j"), journal_bytes(test_meta(), many));
  const size_t header = journal::encode_header(test_meta(), CR_EVENT_VERSION).size();
  const size_t rec = journal::kFrameSize + Decoder::kRecordSize;
  std::string err;
  auto src = journal::FileSource::open(dir.file("j"), &err);
  ASSERT_TRUE(src) << err;
  Reader reader(*src, "j", 4096);
  ASSERT_TRUE(reader.read_header());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(reader.next());
  const size_t cut = header + 500 * rec + 70;
  ASSERT_EQ(truncate(dir.file("j").c_str(), static_cast<off_t>(cut)), 0);
  size_t more = 0;
  while (reader.next()) ++more;
  EXPECT_EQ(10 + more, 500u);
  ASSERT_TRUE(reader.error());
  EXPECT_EQ(reader.error()->offset, header + 500 * rec);
  EXPECT_NE(reader.error()->message.find("torn record"), std::string::npos) << reader.error()->message;
}

TEST(JournalReader, EmptyFile_SaysEmptyAtOffsetZero) {
  const ReadAll r = read_all({});
  EXPECT_FALSE(r.header);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->offset, 0u);
  EXPECT_NE(r.error->message.find("empty"), std::string::npos);
}

TEST(JournalReader, NotAJournal_SaysBadMagic) {
  const std::string text = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const ReadAll r = read_all(std::as_bytes(std::span(text)));
  EXPECT_FALSE(r.header);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->line(), "j: offset 0: not a connreset journal (bad magic)");
}

TEST(JournalReader, WrongFormatVersion_NamesBothVersions) {
  auto bytes = journal_bytes(test_meta(), three_events());
  bytes[8] = std::byte{9};
  const ReadAll r = read_all(bytes);
  EXPECT_FALSE(r.header);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->offset, 8u);
  EXPECT_NE(r.error->message.find("version 9"), std::string::npos) << r.error->message;
}

TEST(JournalReader, WrongEventVersion_IsRefused) {
  auto bytes = journal_bytes(test_meta(), three_events());
  bytes[10] = std::byte{CR_EVENT_VERSION + 1};  // a version this build does not know
  const ReadAll r = read_all(bytes);
  EXPECT_FALSE(r.header);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->offset, 10u);
}

// Version 2 has version 3's layout, and its last builds already wrote carried FINs: a journal
// of theirs reads whole, the carried FIN included (version 3 exists so that a version-2
// reader refuses this build's journals instead of dropping what they carry).
TEST(JournalReader, VersionTwoJournal_ReadsAsVersionThree) {
  Event close_with_fin = three_events().back();
  close_with_fin.type = EventType::StateChange;
  close_with_fin.old_state = CR_TCP_FIN_WAIT2;
  close_with_fin.state = CR_TCP_CLOSE;
  close_with_fin.fin = CarriedFin{true, 1234, CR_TCP_ESTABLISHED, CR_TCP_FIN_WAIT1, 3};
  auto bytes = journal::encode_header(test_meta(), Decoder::kVersionV2);
  const auto rec = journal::encode_record(journal::RecordKind::Event, raw_event(close_with_fin));
  bytes.insert(bytes.end(), rec.begin(), rec.end());
  const ReadAll r = read_all(bytes);
  ASSERT_FALSE(r.error) << r.error->line();
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].fin, close_with_fin.fin);
}

// A journal recorded by connreset 0.1 (event version 1, 136-byte records), kept in the fuzz
// corpus: it still reads whole, its RSTs without the remote evidence v1 did not record.
TEST(JournalReader, VersionOneJournal_StillReads_WithoutRemoteEvidence) {
  std::ifstream in(CONNRESET_SOURCE_DIR "/tests/fuzz/corpus/real_journal_with_resets", std::ios::binary);
  ASSERT_TRUE(in);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto bytes = std::as_bytes(std::span(chars));
  Reader reader(bytes, "j");
  ASSERT_TRUE(reader.read_header()) << reader.error()->line();
  EXPECT_EQ(reader.event_version(), Decoder::kVersionV1);
  EXPECT_EQ(reader.meta().record_size, Decoder::kRecordSizeV1);
  const ReadAll r = read_all(bytes);
  EXPECT_FALSE(r.error) << r.error->line();
  ASSERT_GE(r.events.size(), 10u);
  size_t received = 0;
  for (const Event& e : r.events) {
    EXPECT_FALSE(e.evidence.socket || e.evidence.times || e.evidence.segment);
    EXPECT_EQ(e.evidence.bytes_acked, 0u);
    if (e.type == EventType::ResetReceived) ++received;
  }
  EXPECT_GE(received, 1u);
}

TEST(JournalReader, CorruptHeaderMetadata_FailsTheChecksum) {
  auto bytes = journal_bytes(test_meta(), three_events());
  bytes[journal::kHeaderFixedSize + 3] ^= std::byte{1};
  const ReadAll r = read_all(bytes);
  EXPECT_FALSE(r.header);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->message.find("header checksum"), std::string::npos);
}

TEST(JournalReader, TruncatedHeader_SaysTruncated) {
  const auto bytes = journal_bytes(test_meta(), {});
  const ReadAll r = read_all(std::span(bytes).first(journal::kHeaderFixedSize + 4));
  EXPECT_FALSE(r.header);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->message.find("truncated journal header"), std::string::npos);
}

TEST(JournalReader, MetaWithoutRequiredFields_IsRefused) {
  const std::string meta = R"({"kernel":"x"})";
  std::vector<std::byte> bytes;
  for (char c : journal::kMagic) bytes.push_back(static_cast<std::byte>(c));
  journal::put_u16(bytes, journal::kFormatVersion);
  journal::put_u16(bytes, CR_EVENT_VERSION);
  journal::put_u32(bytes, static_cast<uint32_t>(meta.size()));
  std::vector<std::byte> covered(bytes.begin() + 8, bytes.end());
  for (char c : meta) covered.push_back(static_cast<std::byte>(c));
  journal::put_u32(bytes, journal::crc32(covered));
  bytes.insert(bytes.end(), covered.begin() + 8, covered.end());
  const ReadAll r = read_all(bytes);
  EXPECT_FALSE(r.header);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error->message.find("header metadata"), std::string::npos) << r.error->message;
}

TEST(JournalReader, FileSource_RefusesDirectoriesAndReadsFiles) {
  TempDir dir;
  std::string err;
  EXPECT_FALSE(journal::FileSource::open(dir.path(), &err));
  EXPECT_EQ(err, "is a directory");
  write_file(dir.file("j"), journal_bytes(test_meta(), three_events()));
  auto f = journal::FileSource::open(dir.file("j"), &err);
  ASSERT_TRUE(f) << err;
  Reader reader(*f, "j");
  ASSERT_TRUE(reader.read_header());
  size_t n = 0;
  while (reader.next()) ++n;
  EXPECT_EQ(n, 4u);  // three events and the end record
}

TEST(JournalFormat, Crc32_MatchesTheKnownCheckValue) {
  const std::string s = "123456789";
  EXPECT_EQ(journal::crc32(std::as_bytes(std::span(s))), 0xCBF43926u);
  // slicing by 8 and the byte loop agree at every length and when chained
  std::vector<std::byte> data(100);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 31 + 7);
  for (size_t n = 0; n <= data.size(); ++n) {
    uint32_t bytewise = ~0u;
    for (size_t i = 0; i < n; ++i) {
      bytewise ^= static_cast<uint8_t>(data[i]);
      for (int k = 0; k < 8; ++k) bytewise = (bytewise & 1) ? 0xEDB88320u ^ (bytewise >> 1) : bytewise >> 1;
    }
    const auto span = std::span<const std::byte>(data).first(n);
    EXPECT_EQ(journal::crc32(span), ~bytewise) << n;
    EXPECT_EQ(journal::crc32(span.subspan(n / 3), journal::crc32(span.first(n / 3))), ~bytewise) << n;
  }
}

// The carry-less-multiply path (where the CPU has it) against the tables: every length
// across its 16- and 64-byte steps, every alignment, chained from arbitrary registers.
TEST(JournalFormat, Crc32_FastPathMatchesTheTables) {
  std::vector<std::byte> data(1100);
  uint32_t x = 12345;
  for (std::byte& b : data) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::byte>(x >> 16);
  }
  for (size_t align = 0; align < 16; align += 5) {
    for (size_t n = 0; n + align <= data.size(); ++n) {
      const auto span = std::span<const std::byte>(data).subspan(align, n);
      const uint32_t seed = static_cast<uint32_t>(n * 2654435761u);
      ASSERT_EQ(journal::crc32(span), journal::crc32_portable(span)) << "n " << n << " align " << align;
      ASSERT_EQ(journal::crc32(span, seed), journal::crc32_portable(span, seed)) << "n " << n << " align " << align;
    }
  }
  const std::string s(1000, 'a');  // zlib.crc32(b"a" * 1000)
  EXPECT_EQ(journal::crc32(std::as_bytes(std::span(s))), 0x9A38DA03u);
}

TEST(JournalFormat, FileNames_SortBySequence) {
  EXPECT_EQ(journal::file_name(7), "connreset-00000007.journal");
  EXPECT_EQ(journal::sequence_of("connreset-00000007.journal"), 7u);
  EXPECT_FALSE(journal::sequence_of("connreset-.journal"));
  EXPECT_FALSE(journal::sequence_of("other.txt"));
}

}  // namespace
}  // namespace connreset
