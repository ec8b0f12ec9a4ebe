#include "journal/reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "connreset.h"
#include "decode/decoder.h"

namespace connreset::journal {

std::string ReadError::line() const {
  return file + ": offset " + std::to_string(offset) + ": " + message;
}

// ---- sources -------------------------------------------------------------------

ssize_t MemorySource::read_at(uint64_t offset, std::byte* out, size_t n, std::string*) {
  if (offset >= data_.size()) return 0;
  const size_t k = std::min<uint64_t>(n, data_.size() - offset);
  std::memcpy(out, data_.data() + offset, k);
  return static_cast<ssize_t>(k);
}

std::unique_ptr<FileSource> FileSource::open(const std::string& path, std::string* error) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    *error = std::strerror(errno);
    return nullptr;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file";
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<FileSource> f(new FileSource());
  f->fd_ = fd;
  f->dev_ = st.st_dev;
  f->ino_ = st.st_ino;
  f->size_ = static_cast<uint64_t>(st.st_size);
  return f;
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

ssize_t FileSource::read_at(uint64_t offset, std::byte* out, size_t n, std::string* error) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      *error = std::string("read: ") + std::strerror(errno);
      return -1;
    }
    if (r == 0) break;  // the end, perhaps earlier than at open: the file shrank
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

// ---- Reader ----------------------------------------------------------------------

Reader::Reader(ByteSource& source, std::string name, size_t chunk)
    : src_(&source), name_(std::move(name)), chunk_(std::max<size_t>(chunk, 4096)) {}

Reader::Reader(std::span<const std::byte> data, std::string name)
    : owned_(std::make_unique<MemorySource>(data)), src_(owned_.get()), name_(std::move(name)),
      chunk_(64 * 1024) {}

std::optional<Record> Reader::fail(uint64_t at, std::string message) {
  error_ = ReadError{name_, at, std::move(message)};
  done_ = true;
  return std::nullopt;
}

size_t Reader::window(uint64_t off, size_t n) {
  if (off >= buf_off_ && off - buf_off_ <= buf_len_) {
    const size_t avail = buf_len_ - static_cast<size_t>(off - buf_off_);
    if (avail >= n || buf_eof_) return std::min(avail, n);
  }
  if (error_) return 0;
  // keep what is buffered from off on, read the rest
  size_t keep = 0;
  if (off >= buf_off_ && off - buf_off_ < buf_len_) {
    keep = buf_len_ - static_cast<size_t>(off - buf_off_);
    std::memmove(buf_.data(), at(off), keep);
  }
  const size_t want = std::max(n, chunk_);
  if (buf_.size() < want) buf_.resize(want);
  if (buf_.size() > 2 * chunk_ && buf_.size() > want) {  // a big record passed: give the memory back
    buf_.resize(want);
    buf_.shrink_to_fit();
  }
  buf_off_ = off;
  buf_len_ = keep;
  buf_eof_ = false;
  while (buf_len_ < buf_.size()) {
    std::string err;
    const ssize_t r = src_->read_at(off + buf_len_, buf_.data() + buf_len_, buf_.size() - buf_len_, &err);
    if (r < 0) {
      error_ = ReadError{name_, off + buf_len_, err};
      buf_eof_ = true;
      break;
    }
    if (r == 0) {  // the end (a source returns fewer bytes only there)
      buf_eof_ = true;
      break;
    }
    buf_len_ += static_cast<size_t>(r);
  }
  return std::min(buf_len_, n);
}

bool Reader::read_header() {
  const size_t have = window(0, kHeaderFixedSize);
  if (error_) return false;
  if (have == 0) {
    fail(0, "empty file (no journal header)");
    return false;
  }
  if (have < sizeof(kMagic) || std::memcmp(at(0), kMagic, sizeof(kMagic)) != 0) {
    fail(0, "not a connreset journal (bad magic)");
    return false;
  }
  if (have < kHeaderFixedSize) {
    fail(have, "truncated journal header");
    return false;
  }
  const uint16_t format = get_u16(at(8));
  event_version_ = get_u16(at(10));
  const uint32_t meta_len = get_u32(at(12));
  const uint32_t crc = get_u32(at(16));
  if (format != kFormatVersion) {
    fail(8, "journal format version " + std::to_string(format) + ", this build reads version " +
                std::to_string(kFormatVersion));
    return false;
  }
  if (Decoder::record_size(event_version_) == 0) {
    fail(10, "event record version " + std::to_string(event_version_) + ", this build reads versions " +
                 std::to_string(Decoder::kVersionV1) + " to " + std::to_string(CR_EVENT_VERSION));
    return false;
  }
  if (meta_len > kMaxMetaSize) {
    fail(12, "header metadata of " + std::to_string(meta_len) + " bytes (limit " +
                 std::to_string(kMaxMetaSize) + "): corrupt header");
    return false;
  }
  const size_t whole = window(0, kHeaderFixedSize + meta_len);
  if (error_) return false;
  if (whole < kHeaderFixedSize + meta_len) {
    fail(whole, "truncated journal header (metadata cut short)");
    return false;
  }
  const std::span<const std::byte> meta_bytes(at(kHeaderFixedSize), meta_len);
  uint32_t want = crc32(std::span<const std::byte>(at(8), 8));
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
  if (m->record_size != Decoder::record_size(event_version_)) {
    fail(kHeaderFixedSize, "event records of " + std::to_string(m->record_size) + " bytes, version " +
                               std::to_string(event_version_) + " records have " +
                               std::to_string(Decoder::record_size(event_version_)));
    return false;
  }
  meta_ = std::move(*m);
  offset_ = data_start_ = kHeaderFixedSize + meta_len;
  header_ok_ = true;
  return true;
}

// strict (when looking for the next record after corruption): the length must
// also be the one its kind always has, so a resync lands on a real record and
// a hostile file cannot make every byte cost a 64 KiB checksum.
Reader::Frame Reader::check_frame(uint64_t off, bool strict, std::string* why) {
  if (window(off, kFrameSize) < kFrameSize) return Frame::Short;
  const std::byte* p = at(off);
  const uint32_t len = get_u32(p);
  const auto kind = static_cast<uint8_t>(p[4]);
  const uint32_t crc = get_u32(p + 8);
  auto corrupt = [&](std::string m) {
    if (why) *why = std::move(m);
    return Frame::Corrupt;
  };
  if (len > kMaxPayloadSize) {
    return corrupt("record length " + std::to_string(len) + " exceeds the limit of " +
                   std::to_string(kMaxPayloadSize) + ": corrupt record");
  }
  if (p[5] != std::byte{0} || p[6] != std::byte{0} || p[7] != std::byte{0}) {
    return corrupt("reserved record bytes set: corrupt record");
  }
  if (kind < static_cast<uint8_t>(RecordKind::Event) || kind > static_cast<uint8_t>(RecordKind::End)) {
    return corrupt("unknown record kind " + std::to_string(kind) + ": corrupt record");
  }
  if (strict) {
    // counters: older journals have fewer fields, later versions may append some (u64 each)
    const bool counters = kind == static_cast<uint8_t>(RecordKind::Counters);
    const bool fits = counters ? len >= kTotalsSizeV1 && len <= kTotalsSizeMax && len % 8 == 0
                               : len == (kind == static_cast<uint8_t>(RecordKind::Event) ? meta_.record_size : 0);
    if (!fits) return Frame::Corrupt;
  }
  if (window(off, kFrameSize + len) < kFrameSize + len) return Frame::Short;
  p = at(off);  // the window may have moved
  // the checksum starts with the kind and its zero padding (both checked above): one of
  // three values, computed once
  static const std::array<uint32_t, 4> kKindCrc = [] {
    std::array<uint32_t, 4> t{};
    for (uint8_t k = 0; k < t.size(); ++k) {
      const std::byte covered[4] = {std::byte{k}, {}, {}, {}};
      t[k] = crc32(covered);
    }
    return t;
  }();
  if (crc32(std::span<const std::byte>(p + kFrameSize, len), kKindCrc[kind]) != crc) {
    return corrupt("record checksum mismatch: corrupt record");
  }
  return Frame::Ok;
}

bool Reader::resync(uint64_t from) {
  for (uint64_t p = from + 1;; ++p) {
    if (window(p, kFrameSize) < kFrameSize) {
      offset_ = p + window(p, kFrameSize);
      return false;
    }
    if (check_frame(p, true, nullptr) == Frame::Ok) {
      offset_ = p;
      return true;
    }
  }
}

void Reader::seek(uint64_t off) {
  if (!header_ok_) return;
  // reading starts afresh here: what an earlier position found does not count
  done_ = saw_end_ = false;
  error_.reset();
  problems_.clear();
  corrupt_regions_ = skipped_bytes_ = after_end_ = 0;
  if (off <= data_start_) {
    offset_ = data_start_;
    return;
  }
  if (!resync(off - 1)) done_ = true;
}

std::optional<Record> Reader::next() {
  while (header_ok_ && !done_) {
    const uint64_t here = offset_;
    std::string why;
    const Frame f = check_frame(here, false, &why);
    if (error_) return fail(error_->offset, error_->message);  // I/O error
    if (f == Frame::Ok) {
      const std::byte* p = at(here);
      const uint32_t len = get_u32(p);
      Record r{static_cast<RecordKind>(static_cast<uint8_t>(p[4])), here,
               std::span<const std::byte>(p + kFrameSize, len)};
      offset_ = here + kFrameSize + len;
      ++records_;
      if (saw_end_) ++after_end_;
      if (r.kind == RecordKind::End) saw_end_ = true;
      return r;
    }
    if (f == Frame::Short) {
      const size_t have = window(here, kFrameSize);
      if (have == 0) {  // a clean end, at a record boundary
        done_ = true;
        return std::nullopt;
      }
      std::string torn;
      if (have < kFrameSize) {
        torn = "torn record at the end (" + std::to_string(have) + " of a frame's " +
               std::to_string(kFrameSize) + " bytes): the writer stopped mid-record";
      } else {
        const uint32_t len = get_u32(at(here));
        const size_t got = window(here, kFrameSize + len) - kFrameSize;
        torn = "torn record at the end (" + std::to_string(got) + " of " + std::to_string(len) +
               " payload bytes): the writer stopped mid-record";
      }
      // a length running past the end with intact records after it is corruption, not a tear
      if (!resync(here)) return fail(here, torn);
      why = "record length runs past the next records: corrupt record";
    } else if (!resync(here)) {
      ++corrupt_regions_;
      skipped_bytes_ += offset_ - here;
      return fail(here, why + "; nothing valid after it (" + std::to_string(offset_ - here) +
                            " bytes to the end skipped)");
    }
    ++corrupt_regions_;
    skipped_bytes_ += offset_ - here;
    if (problems_.size() < kMaxProblemLines) {
      problems_.push_back(ReadError{name_, here, why + "; skipped " + std::to_string(offset_ - here) +
                                                     " bytes, resumed at offset " + std::to_string(offset_)});
    }
  }
  return std::nullopt;
}

// ---- MappedFile ----------------------------------------------------------------

std::optional<MappedFile> MappedFile::open(const std::string& path, std::string* error) {
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
