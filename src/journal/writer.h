#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "journal/format.h"

namespace connreset::journal {

struct WriterOptions {
  std::string dir;
  uint64_t max_file_bytes = 64ull << 20;  // rotate before a file would grow past this
  size_t max_files = 8;                   // oldest files deleted past this many
  uint64_t sync_interval_ns = 1'000'000'000;  // fdatasync at most this often (power loss)
};

struct WriterStats {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t files_opened = 0;
  uint64_t files_deleted = 0;
  uint64_t write_errors = 0;
};

class WriterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Append-only journal files in one directory (0700), each 0600 with its own
// header. Every record goes to the kernel in one write() as it arrives - no
// user-space buffer - so kill -9 loses at most the record being written;
// fdatasync runs on a timer, at rotation and at close.
class Writer {
 public:
  // Creates the directory if needed; throws WriterError naming the path.
  explicit Writer(WriterOptions options);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Opens the first file. meta.sequence and clock are filled in per file.
  void open(const Meta& meta);
  void append(RecordKind kind, std::span<const std::byte> payload);
  // Closes the current file and starts the next one (SIGHUP, rotation).
  void reopen();
  void sync_if_due(uint64_t now_ns);
  // Writes the end record, syncs and closes.
  void close();

  const WriterStats& stats() const { return stats_; }
  std::string current_path() const;
  size_t files_on_disk() const;

 private:
  void open_next();
  void close_current(bool clean);
  void delete_old_files();
  void write_all(std::span<const std::byte> bytes);

  WriterOptions options_;
  Meta meta_;
  int fd_ = -1;
  uint64_t sequence_ = 0;
  uint64_t file_bytes_ = 0;
  bool dirty_ = false;
  uint64_t last_sync_ns_ = 0;
  WriterStats stats_;
};

}  // namespace connreset::journal
