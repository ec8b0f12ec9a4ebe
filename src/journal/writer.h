#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "journal/format.h"
#include "journal/syncer.h"

namespace connreset::journal {

struct WriterOptions {
  std::string dir;
  uint64_t max_file_bytes = 64ull << 20;  // rotate before a file would grow past this
  size_t max_files = 8;                   // oldest files deleted past this many
  uint64_t sync_interval_ns = 1'000'000'000;  // fdatasync (and the deleted-file check) at most this often
  // Who writes after privileges are dropped (record --user); unset: this
  // process as it is now. The directory must be that user's (see Writer()).
  std::optional<uid_t> writer_uid = std::nullopt;
  gid_t writer_gid = 0;
};

struct WriterStats {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t files_opened = 0;
  uint64_t files_deleted = 0;
  uint64_t write_errors = 0;
  uint64_t events = 0;          // event records written by this run
  uint64_t events_deleted = 0;  // ... of which in files rotation deleted since
};

class WriterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Append-only journal files in one directory (0700), each 0600 with its own
// header. Records are batched in user space and go to the kernel in one write()
// per flush(): the recorder flushes after every poll of the ring buffer (<= 100 ms)
// and a batch never grows past kBatchBytes. kill -9 loses at most that batch - as it
// loses the records still queued in the kernel's ring buffer - instead of one
// write() per event costing a syscall each in a reset storm. fdatasync runs on a
// timer, at rotation and at close, each after a flush, on a thread of its own (syncer.h):
// the caller, which also drains the kernel's ring buffer, never waits for the disk but at close().
//
// The directory is opened once, before privileges are dropped, and every
// file is created, listed and deleted relative to that handle (openat,
// unlinkat): renaming the path or swapping in a symlink later changes
// nothing. It is locked (flock) so two recorders never rotate each other's files.
class Writer {
 public:
  // Creates the directory (0700, owned by the writer) if needed. Refuses, with
  // a WriterError naming the path: a symlink, a group- or world-writable
  // directory, one another user owns (the writer could not create files in it
  // once privileges are dropped; a root-owned one holding nothing but journals
  // is handed to the writer), one another recorder is writing into, and one
  // whose newest journal has the largest sequence number.
  explicit Writer(WriterOptions options);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Opens the first file. meta.sequence and clock are filled in per file.
  void open(const Meta& meta);
  void append(RecordKind kind, std::span<const std::byte> payload);
  // Writes the batched records out (one write()); throws WriterError if that failed.
  void flush();
  static constexpr size_t kBatchBytes = 64 << 10;
  // Closes the current file and starts the next one (SIGHUP, rotation).
  void reopen();
  // fdatasync when due (queued to the syncer; a failure of an earlier one throws here); and
  // whether the file or the directory was deleted
  // under us: a deleted file is replaced by a new one (returned as a
  // warning), a deleted directory throws - nothing written there can be read.
  std::string sync_if_due(uint64_t now_ns);
  // Writes the end record, syncs and closes; throws WriterError if any of that failed.
  void close();

  const WriterStats& stats() const { return stats_; }
  std::string current_path() const;
  size_t files_on_disk() const;
  // Event records of this run in files that are still in the directory.
  uint64_t events_on_disk() const;
  // What the constructor did that the user should hear about ("" if nothing).
  const std::string& note() const { return note_; }

 private:
  void open_next();
  // clean: end record first. Returns "" or what failed (the fd is closed either way).
  std::string close_current(bool clean);
  bool directory_deleted() const;  // unlinked from the file system (rm -r) while open
  std::string directory_deleted_error() const;
  void delete_old_files();
  void write_all(std::span<const std::byte> bytes);  // flushes the batch first
  void write_out(std::span<const std::byte> bytes);  // one write(), counted nowhere
  std::map<uint64_t, ino_t> files_in_dir() const;

  WriterOptions options_;
  Meta meta_;
  int dir_fd_ = -1;
  int fd_ = -1;
  uint64_t sequence_ = 0;
  uint64_t file_bytes_ = 0;
  bool dirty_ = false;
  std::vector<std::byte> batch_;  // records appended since the last flush()
  uint64_t last_sync_ns_ = 0;
  WriterStats stats_;
  std::string note_;
  struct FileOfThisRun {
    ino_t inode = 0;
    uint64_t events = 0;
  };
  std::map<uint64_t, FileOfThisRun> written_;  // by sequence
  std::unique_ptr<Syncer> syncer_;  // created with the writer, before privileges are dropped
};

}  // namespace connreset::journal
