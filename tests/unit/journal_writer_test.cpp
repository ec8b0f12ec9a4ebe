#include <sys/stat.h>

#include <gtest/gtest.h>

#include "journal/reader.h"
#include "journal/writer.h"
#include "unit/event_builder.h"
#include "unit/journal_test_util.h"

namespace connreset {
namespace {

using namespace connreset::testing;
namespace fs = std::filesystem;

const Conn kSock{11, ep(18081), ep(46252)};

size_t events_in(const std::string& path, bool* ended = nullptr) {
  std::string err;
  auto f = journal::MappedFile::open(path, &err);
  if (!f) return 0;
  journal::Reader r(f->bytes(), path);
  if (!r.read_header()) return 0;
  size_t n = 0;
  while (auto rec = r.next()) n += rec->kind == journal::RecordKind::Event;
  if (ended) *ended = r.saw_end_record();
  return r.error() ? 0 : n;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(JournalWriter, CreatesPrivateDirectoryAndFiles) {
  TempDir tmp;
  const std::string dir = tmp.file("journal");
  journal::Writer w({.dir = dir});
  w.open(test_meta());
  w.append(journal::RecordKind::Event, raw_event(abort_on_close(1, kSock, task(1, "a"), 5)));
  w.close();
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir + "/" + journal::file_name(1)), 0600u);
  bool ended = false;
  EXPECT_EQ(events_in(dir + "/" + journal::file_name(1), &ended), 1u);
  EXPECT_TRUE(ended);
}

TEST(JournalWriter, RotatesBySizeAndDeletesTheOldestPastTheCap) {
  TempDir tmp;
  journal::Writer w({.dir = tmp.path(), .max_file_bytes = 1024, .max_files = 3});
  w.open(test_meta());
  const auto raw = raw_event(abort_on_close(1, kSock, task(1, "a"), 5));
  for (int i = 0; i < 40; ++i) w.append(journal::RecordKind::Event, raw);
  w.close();
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    names.push_back(e.path().filename().string());
    EXPECT_LE(fs::file_size(e.path()), 1024u + 32u) << e.path();
  }
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 3u);
  EXPECT_GT(w.stats().files_opened, 3u);
  EXPECT_EQ(w.stats().files_deleted, w.stats().files_opened - 3);
  EXPECT_EQ(names.back(), journal::file_name(w.stats().files_opened));
  for (const auto& n : names) EXPECT_GT(events_in(tmp.file(n)), 0u) << n;
}

TEST(JournalWriter, Reopen_StartsANewFileAndEndsTheOldOneCleanly) {
  TempDir tmp;
  journal::Writer w({.dir = tmp.path()});
  w.open(test_meta());
  const auto raw = raw_event(abort_on_close(1, kSock, task(1, "a"), 5));
  w.append(journal::RecordKind::Event, raw);
  w.reopen();
  w.append(journal::RecordKind::Event, raw);
  w.append(journal::RecordKind::Event, raw);
  bool ended = false;
  EXPECT_EQ(events_in(tmp.file(journal::file_name(1)), &ended), 1u);
  EXPECT_TRUE(ended);
  // batched: nothing of the open file's records is on disk before a flush (the recorder
  // flushes after every poll of the ring buffer)
  EXPECT_EQ(events_in(tmp.file(journal::file_name(2)), &ended), 0u);
  w.flush();
  // still open: readable up to here, without the end record
  EXPECT_EQ(events_in(tmp.file(journal::file_name(2)), &ended), 2u);
  EXPECT_FALSE(ended);
}

TEST(JournalWriter, ContinuesAfterTheNewestExistingFile) {
  TempDir tmp;
  { journal::Writer w({.dir = tmp.path()}); w.open(test_meta()); w.close(); }
  journal::Writer w({.dir = tmp.path()});
  w.open(test_meta());
  EXPECT_EQ(w.current_path(), tmp.file(journal::file_name(2)));
}

TEST(JournalWriter, UnusableDirectory_ThrowsNamingThePath) {
  TempDir tmp;
  write_file(tmp.file("plain"), {});
  try {
    journal::Writer w({.dir = tmp.file("plain")});
    FAIL() << "no error for a plain file";
  } catch (const journal::WriterError& e) {
    EXPECT_NE(std::string(e.what()).find(tmp.file("plain")), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace connreset
