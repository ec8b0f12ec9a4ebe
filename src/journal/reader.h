#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "journal/format.h"

namespace connreset::journal {

// Where and why reading stopped: "FILE: offset N: message".
struct ReadError {
  std::string file;
  uint64_t offset = 0;
  std::string message;
  std::string line() const;
};

struct Record {
  RecordKind kind = RecordKind::Event;
  uint64_t offset = 0;  // of the frame, in the file
  std::span<const std::byte> payload;
};

// Reads a journal held in memory (a mapped file, a fuzzer's input). Never
// reads past the buffer, never allocates more than a header's metadata, and
// stops at the first torn or corrupt record: everything before it is kept.
class Reader {
 public:
  Reader(std::span<const std::byte> data, std::string name);

  // Checks magic, versions and the metadata. false: error() says why.
  bool read_header();
  const Meta& meta() const { return meta_; }
  uint16_t event_version() const { return event_version_; }

  // The next intact record; nullopt at the end of the data or at a problem (see error()).
  std::optional<Record> next();

  const std::optional<ReadError>& error() const { return error_; }
  bool saw_end_record() const { return saw_end_; }
  uint64_t records() const { return records_; }
  uint64_t offset() const { return offset_; }
  const std::string& name() const { return name_; }

 private:
  std::optional<Record> fail(uint64_t at, std::string message);

  std::span<const std::byte> data_;
  std::string name_;
  Meta meta_;
  uint16_t event_version_ = 0;
  uint64_t offset_ = 0;
  uint64_t records_ = 0;
  bool header_ok_ = false;
  bool saw_end_ = false;
  std::optional<ReadError> error_;
};

// A read-only mapping of a whole journal file. Refuses what is not a regular
// file (a FIFO would block, a device never ends).
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
