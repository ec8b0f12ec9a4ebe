#include "journal/reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "connreset.h"
#include "decode/decoder.h"

namespace connreset::journal {

std::string ReadError::line() const {
  return file + ": offset " + std::to_string(offset) + ": " + message;
}

Reader::Reader(std::span<const std::byte> data, std::string name)
    : data_(data), name_(std::move(name)) {}

std::optional<Record> Reader::fail(uint64_t at, std::string message) {
  error_ = ReadError{name_, at, std::move(message)};
  return std::nullopt;
}

bool Reader::read_header() {
  if (data_.empty()) {
    fail(0, "empty file (no journal header)");
    return false;
  }
  if (data_.size() < sizeof(kMagic) || std::memcmp(data_.data(), kMagic, sizeof(kMagic)) != 0) {
    fail(0, "not a connreset journal (bad magic)");
    return false;
  }
  if (data_.size() < kHeaderFixedSize) {
    fail(data_.size(), "truncated journal header");
    return false;
  }
  const std::byte* p = data_.data();
  const uint16_t format = get_u16(p + 8);
  event_version_ = get_u16(p + 10);
  const uint32_t meta_len = get_u32(p + 12);
  const uint32_t crc = get_u32(p + 16);
  if (format != kFormatVersion) {
    fail(8, "journal format version " + std::to_string(format) + ", this build reads version " +
                std::to_string(kFormatVersion));
    return false;
  }
  if (event_version_ != CR_EVENT_VERSION) {
    fail(10, "event record version " + std::to_string(event_version_) +
                 ", this build reads version " + std::to_string(CR_EVENT_VERSION));
    return false;
  }
  if (meta_len > kMaxMetaSize) {
    fail(12, "header metadata of " + std::to_string(meta_len) + " bytes (limit " +
                 std::to_string(kMaxMetaSize) + "): corrupt header");
    return false;
  }
  if (data_.size() - kHeaderFixedSize < meta_len) {
    fail(data_.size(), "truncated journal header (metadata cut short)");
    return false;
  }
  const auto meta_bytes = data_.subspan(kHeaderFixedSize, meta_len);
  uint32_t want = crc32(data_.subspan(8, 8));
  want = crc32(meta_bytes, want);
  if (want != crc) {
    fail(16, "header checksum mismatch: corrupt header");
    return false;
  }
  std::string err;
  const std::string_view text(reinterpret_cast<const char*>(meta_bytes.data()), meta_bytes.size());
  std::optional<Meta> m = meta_from_text(text, &err);
  if (!m) {
    fail(kHeaderFixedSize, err);
    return false;
  }
  if (m->record_size != Decoder::kRecordSize) {
    fail(kHeaderFixedSize, "event records of " + std::to_string(m->record_size) +
                               " bytes, this build reads " + std::to_string(Decoder::kRecordSize));
    return false;
  }
  meta_ = std::move(*m);
  offset_ = kHeaderFixedSize + meta_len;
  header_ok_ = true;
  return true;
}

std::optional<Record> Reader::next() {
  if (!header_ok_ || error_ || offset_ >= data_.size()) return std::nullopt;
  const uint64_t left = data_.size() - offset_;
  if (left < kFrameSize) {
    return fail(offset_, "torn record at the end (" + std::to_string(left) +
                             " of a frame's " + std::to_string(kFrameSize) +
                             " bytes): the writer stopped mid-record");
  }
  const std::byte* p = data_.data() + offset_;
  const uint32_t len = get_u32(p);
  const auto kind = static_cast<uint8_t>(p[4]);
  const uint32_t crc = get_u32(p + 8);
  if (len > kMaxPayloadSize) {
    return fail(offset_, "record length " + std::to_string(len) + " exceeds the limit of " +
                             std::to_string(kMaxPayloadSize) + ": corrupt record");
  }
  if (left - kFrameSize < len) {
    return fail(offset_, "torn record at the end (" + std::to_string(left - kFrameSize) + " of " +
                             std::to_string(len) + " payload bytes): the writer stopped mid-record");
  }
  const auto payload = data_.subspan(offset_ + kFrameSize, len);
  if (crc32(payload, crc32(data_.subspan(offset_ + 4, 4))) != crc) {
    return fail(offset_, "record checksum mismatch: corrupt record");
  }
  if (p[5] != std::byte{0} || p[6] != std::byte{0} || p[7] != std::byte{0}) {
    return fail(offset_, "reserved record bytes set: corrupt record");
  }
  if (kind < static_cast<uint8_t>(RecordKind::Event) || kind > static_cast<uint8_t>(RecordKind::End)) {
    return fail(offset_, "unknown record kind " + std::to_string(kind));
  }
  Record r{static_cast<RecordKind>(kind), offset_, payload};
  offset_ += kFrameSize + len;
  ++records_;
  if (r.kind == RecordKind::End) saw_end_ = true;
  return r;
}

// ---- MappedFile ----------------------------------------------------------------

std::optional<MappedFile> MappedFile::open(const std::string& path, std::string* error) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    *error = std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file";
    ::close(fd);
    return std::nullopt;
  }
  MappedFile f;
  f.size_ = static_cast<size_t>(st.st_size);
  f.dev_ = st.st_dev;
  f.ino_ = st.st_ino;
  if (f.size_ > 0) {
    void* m = mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      *error = std::string("mmap: ") + std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    f.data_ = static_cast<const std::byte*>(m);
  }
  ::close(fd);
  return f;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(o.data_), size_(o.size_), dev_(o.dev_), ino_(o.ino_) {
  o.data_ = nullptr;
  o.size_ = 0;
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<std::byte*>(data_), size_);
}

}  // namespace connreset::journal
