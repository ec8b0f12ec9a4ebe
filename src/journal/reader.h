#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "journal/format.h"

namespace connreset::journal {

// Where and why reading stopped or skipped: "FILE: offset N: message".
struct ReadError {
  std::string file;
  uint64_t offset = 0;
  std::string message;
  std::string line() const;
};

struct Record {
  RecordKind kind = RecordKind::Event;
  uint64_t offset = 0;  // of the frame, in the file
  std::span<const std::byte> payload;  // valid until the next call to Reader::next()
};

// Bytes at an offset: a file read with pread (a file that shrinks while it is
// read ends early instead of faulting, as a mapping would: SIGBUS), or memory
// (the fuzzer's input).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to n bytes at offset; fewer only at the end of the data; -1 on an I/O error (*error says why).
  virtual ssize_t read_at(uint64_t offset, std::byte* out, size_t n, std::string* error) = 0;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::span<const std::byte> data) : data_(data) {}
  ssize_t read_at(uint64_t offset, std::byte* out, size_t n, std::string* error) override;

 private:
  std::span<const std::byte> data_;
};

// An open journal file. Refuses what is not a regular file (a FIFO would
// block, a device never ends). One descriptor, closed with the object.
class FileSource : public ByteSource {
 public:
  static std::unique_ptr<FileSource> open(const std::string& path, std::string* error);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  ssize_t read_at(uint64_t offset, std::byte* out, size_t n, std::string* error) override;
  uint64_t device() const { return dev_; }
  uint64_t inode() const { return ino_; }
  uint64_t size_at_open() const { return size_; }

 private:
  FileSource() = default;
  int fd_ = -1;
  uint64_t dev_ = 0, ino_ = 0, size_ = 0;
};

// Reads a journal through a window of `chunk` bytes (grown only for a record
// larger than that), so memory is bounded whatever the file's size. A torn
// record at the end stops reading (everything before it is kept); a corrupt
// record in the middle is skipped: reading resumes at the next record whose
// frame and checksum are valid, and what was skipped is counted.
class Reader {
 public:
  static constexpr size_t kDefaultChunk = 1 << 20;
  static constexpr size_t kMaxProblemLines = 5;  // per file; the rest are only counted

  Reader(ByteSource& source, std::string name, size_t chunk = kDefaultChunk);
  Reader(std::span<const std::byte> data, std::string name);  // memory: tests, the fuzzer

  // Checks magic, versions and the metadata. false: error() says why.
  bool read_header();
  const Meta& meta() const { return meta_; }
  uint16_t event_version() const { return event_version_; }

  // The next intact record; nullopt at the end of the data or where reading had to stop (see error()).
  std::optional<Record> next();

  // Continues at `offset` (a record boundary or not: the next valid record
  // from there is found like after corruption, without counting it as such).
  void seek(uint64_t offset);

  const std::optional<ReadError>& error() const { return error_; }  // why reading stopped early
  const std::vector<ReadError>& problems() const { return problems_; }  // corrupt regions skipped
  uint64_t corrupt_regions() const { return corrupt_regions_; }
  uint64_t skipped_bytes() const { return skipped_bytes_; }
  uint64_t records_after_end() const { return after_end_; }
  bool saw_end_record() const { return saw_end_; }
  uint64_t records() const { return records_; }
  uint64_t offset() const { return offset_; }
  const std::string& name() const { return name_; }

 private:
  enum class Frame { Ok, Short, Corrupt };
  std::optional<Record> fail(uint64_t at, std::string message);
  size_t window(uint64_t offset, size_t n);  // bytes available at offset, up to n (buffers them)
  const std::byte* at(uint64_t offset) const { return buf_.data() + (offset - buf_off_); }
  Frame check_frame(uint64_t offset, bool strict, std::string* why);
  bool resync(uint64_t from);  // to the next valid record after `from`; false: none

  std::unique_ptr<ByteSource> owned_;
  ByteSource* src_;
  std::string name_;
  size_t chunk_;
  std::vector<std::byte> buf_;
  uint64_t buf_off_ = 0;
  size_t buf_len_ = 0;
  bool buf_eof_ = false;  // the buffer reaches the end of the data
  Meta meta_;
  uint16_t event_version_ = 0;
  uint64_t offset_ = 0;
  uint64_t data_start_ = 0;
  uint64_t records_ = 0;
  uint64_t corrupt_regions_ = 0;
  uint64_t skipped_bytes_ = 0;
  uint64_t after_end_ = 0;
  bool header_ok_ = false;
  bool saw_end_ = false;
  bool done_ = false;
  std::optional<ReadError> error_;
  std::vector<ReadError> problems_;
};

// A read-only mapping of a whole journal file (tests that inspect a file's
// bytes). report reads through FileSource instead: bounded memory, no SIGBUS.
class MappedFile {
 public:
  static std::optional<MappedFile> open(const std::string& path, std::string* error);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  uint64_t device() const { return dev_; }
  uint64_t inode() const { return ino_; }

 private:
  MappedFile() = default;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  uint64_t dev_ = 0;
  uint64_t ino_ = 0;
};

}  // namespace connreset::journal
