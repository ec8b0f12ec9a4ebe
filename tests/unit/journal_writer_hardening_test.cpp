// The journal writer against a hostile or careless directory: a sequence at
// its end, symlinks, other owners, a second recorder, files and directories
// deleted while being written.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "journal/writer.h"
#include "unit/event_builder.h"
#include "unit/journal_test_util.h"

namespace connreset {
namespace {

using namespace connreset::testing;
namespace fs = std::filesystem;

const Conn kSock{11, ep(18081), ep(46252)};

std::string what_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const journal::WriterError& e) {
    return e.what();
  }
  return "";
}

void touch(const std::string& path) { std::ofstream(path).put('x'); }

TEST(JournalWriterHardening, NewestFileHasTheLastSequence_RefusedInsteadOfWrappingToZero) {
  TempDir tmp;
  const std::string last = journal::file_name(UINT64_MAX);
  EXPECT_EQ(last, "connreset-18446744073709551615.journal");
  touch(tmp.file(last));
  const std::string err = what_of([&] { journal::Writer w({.dir = tmp.path(), .max_files = 1}); });
  EXPECT_NE(err.find("no sequence number comes after it"), std::string::npos) << err;
  EXPECT_NE(err.find(last), std::string::npos) << err;
  EXPECT_TRUE(fs::exists(tmp.file(last)));
  EXPECT_FALSE(fs::exists(tmp.file(journal::file_name(0))));
}

TEST(JournalWriterHardening, RotationNeverDeletesTheFileBeingWritten) {
  TempDir tmp;
  // an older run's files, some numbered above where this run could start
  touch(tmp.file(journal::file_name(5)));
  touch(tmp.file(journal::file_name(3)));
  journal::Writer w({.dir = tmp.path(), .max_files = 1});
  w.open(test_meta());
  EXPECT_EQ(w.current_path(), tmp.file(journal::file_name(6)));
  w.append(journal::RecordKind::Event, raw_event(abort_on_close(1, kSock, task(1, "a"), 5)));
  EXPECT_TRUE(fs::exists(w.current_path()));
  EXPECT_EQ(w.files_on_disk(), 1u);
  EXPECT_EQ(w.events_on_disk(), 1u);
  w.close();
}

TEST(JournalWriterHardening, EventsInRotatedOutFiles_AreNotClaimedAsKept) {
  TempDir tmp;
  journal::Writer w({.dir = tmp.path(), .max_file_bytes = 1024, .max_files = 2});
  w.open(test_meta());
  const auto raw = raw_event(abort_on_close(1, kSock, task(1, "a"), 5));
  for (int i = 0; i < 40; ++i) w.append(journal::RecordKind::Event, raw);
  w.close();
  EXPECT_EQ(w.stats().events, 40u);
  EXPECT_GT(w.stats().events_deleted, 0u);
  EXPECT_EQ(w.events_on_disk(), 40u - w.stats().events_deleted);
  // and someone else deleting a file is noticed the same way
  fs::remove(w.current_path());
  EXPECT_LT(w.events_on_disk(), 40u - w.stats().events_deleted);
}

TEST(JournalWriterHardening, SymlinkOrGroupWritableDirectory_Refused) {
  TempDir tmp;
  fs::create_directory(tmp.file("real"));
  chmod(tmp.file("real").c_str(), 0700);
  fs::create_directory_symlink(tmp.file("real"), tmp.file("link"));
  std::string err = what_of([&] { journal::Writer w({.dir = tmp.file("link")}); });
  EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
  chmod(tmp.file("real").c_str(), 0770);
  err = what_of([&] { journal::Writer w({.dir = tmp.file("real")}); });
  EXPECT_NE(err.find("group- or world-writable (mode 0770)"), std::string::npos) << err;
  chmod(tmp.file("real").c_str(), 01777);
  err = what_of([&] { journal::Writer w({.dir = tmp.file("real")}); });
  EXPECT_NE(err.find("world-writable"), std::string::npos) << err;
}

TEST(JournalWriterHardening, DirectoryOfAnotherUser_RefusedBeforeAnythingIsWritten) {
  TempDir tmp;
  const std::string dir = tmp.file("theirs");
  fs::create_directory(dir);
  chmod(dir.c_str(), 0700);
  ASSERT_EQ(chown(dir.c_str(), 12345, 12345), 0) << "unit tests run as root";
  // writes as nobody after the drop: uid 12345's directory is not writable then
  std::string err = what_of([&] { journal::Writer w({.dir = dir, .writer_uid = 65534, .writer_gid = 65534}); });
  EXPECT_NE(err.find("owned by uid 12345"), std::string::npos) << err;
  // root without capabilities (--user root) cannot write there either
  err = what_of([&] { journal::Writer w({.dir = dir, .writer_uid = 0}); });
  EXPECT_NE(err.find("owned by uid 12345"), std::string::npos) << err;
  EXPECT_TRUE(fs::is_empty(dir));
  // its own user is fine
  journal::Writer w({.dir = dir, .writer_uid = 12345, .writer_gid = 12345});
  w.open(test_meta());
  struct stat st {};
  ASSERT_EQ(stat(w.current_path().c_str(), &st), 0);
  w.close();
}

TEST(JournalWriterHardening, RootOwnedDirectory_HandedOverOnlyWhenItHoldsNothingButJournals) {
  TempDir tmp;
  const std::string dir = tmp.file("state");
  fs::create_directory(dir);
  chmod(dir.c_str(), 0700);
  touch(dir + "/" + journal::file_name(1));
  {
    journal::Writer w({.dir = dir, .writer_uid = 65534, .writer_gid = 65534});
    EXPECT_NE(w.note().find("now belongs to uid 65534"), std::string::npos) << w.note();
  }
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  // a root directory with anything else in it (think /etc) is never chowned
  const std::string other = tmp.file("other");
  fs::create_directory(other);
  chmod(other.c_str(), 0755);
  touch(other + "/passwd");
  const std::string err = what_of([&] { journal::Writer w({.dir = other, .writer_uid = 65534, .writer_gid = 65534}); });
  EXPECT_NE(err.find("owned by uid 0"), std::string::npos) << err;
  ASSERT_EQ(stat(other.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST(JournalWriterHardening, NewDirectory_BelongsToTheWriterWithMode0700) {
  TempDir tmp;
  const std::string dir = tmp.file("new");
  journal::Writer w({.dir = dir, .writer_uid = 65534, .writer_gid = 65534});
  struct stat st {};
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST(JournalWriterHardening, SecondRecorderOnTheSameDirectory_Refused) {
  TempDir tmp;
  journal::Writer first({.dir = tmp.path()});
  const std::string err = what_of([&] { journal::Writer second({.dir = tmp.path()}); });
  EXPECT_NE(err.find("another connreset record"), std::string::npos) << err;
}

TEST(JournalWriterHardening, FileDeletedWhileWriting_NoticedAndReplaced) {
  TempDir tmp;
  journal::Writer w({.dir = tmp.path(), .sync_interval_ns = 1});
  w.open(test_meta());
  const std::string first = w.current_path();
  fs::remove(first);
  const std::string note = w.sync_if_due(monotonic_now_ns());
  EXPECT_NE(note.find("was deleted while being written"), std::string::npos) << note;
  EXPECT_NE(w.current_path(), first);
  EXPECT_TRUE(fs::exists(w.current_path()));
  w.close();
}

TEST(JournalWriterHardening, DirectoryDeletedWhileWriting_FailsLoudly) {
  TempDir tmp;
  const std::string dir = tmp.file("doomed");
  journal::Writer w({.dir = dir, .sync_interval_ns = 1});
  w.open(test_meta());
  w.append(journal::RecordKind::Event, raw_event(abort_on_close(1, kSock, task(1, "a"), 5)));
  fs::remove_all(dir);
  const std::string err = what_of([&] { w.sync_if_due(monotonic_now_ns()); });
  EXPECT_NE(err.find("was deleted while recording"), std::string::npos) << err;
  EXPECT_EQ(w.events_on_disk(), 0u);
}

// rm -r deletes the file before the directory: a replacement file opened in between (the sync
// that noticed the file gone, a rotation) fails to be created, and says why in the same words
TEST(JournalWriterHardening, DirectoryDeletedBeforeANewFile_SaysTheDirectoryWasDeleted) {
  TempDir tmp;
  const std::string dir = tmp.file("doomed");
  journal::Writer w({.dir = dir, .max_file_bytes = 4096});
  w.open(test_meta());
  fs::remove_all(dir);
  const std::string err = what_of([&] {
    for (int i = 0; i < 1000; ++i) {
      w.append(journal::RecordKind::Event, raw_event(abort_on_close(1, kSock, task(1, "a"), 5)));
    }
  });
  EXPECT_NE(err.find("was deleted while recording"), std::string::npos) << err;
}

}  // namespace
}  // namespace connreset
