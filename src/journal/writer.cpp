#include "journal/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/clock.h"
#include "connreset.h"

namespace connreset::journal {
namespace fs = std::filesystem;

namespace {

std::vector<uint64_t> sequences_in(const std::string& dir) {
  std::vector<uint64_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (auto seq = sequence_of(entry.path().filename().string())) out.push_back(*seq);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

Writer::Writer(WriterOptions options) : options_(std::move(options)) {
  if (options_.max_files == 0) options_.max_files = 1;
  if (mkdir(options_.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw WriterError(errno_text("cannot create directory", options_.dir));
  }
  struct stat st {};
  if (stat(options_.dir.c_str(), &st) != 0) throw WriterError(errno_text("cannot use", options_.dir));
  if (!S_ISDIR(st.st_mode)) throw WriterError(options_.dir + ": not a directory");
  if (access(options_.dir.c_str(), W_OK | X_OK) != 0) {
    throw WriterError(errno_text("cannot write into", options_.dir));
  }
  // continue after the newest file already there; never append to an old one
  const auto existing = sequences_in(options_.dir);
  sequence_ = existing.empty() ? 0 : existing.back();
}

Writer::~Writer() {
  if (fd_ >= 0) close_current(/*clean=*/false);
}

std::string Writer::current_path() const { return options_.dir + "/" + file_name(sequence_); }

size_t Writer::files_on_disk() const { return sequences_in(options_.dir).size(); }

void Writer::open(const Meta& meta) {
  meta_ = meta;
  open_next();
}

void Writer::open_next() {
  ++sequence_;
  const std::string path = current_path();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw WriterError(errno_text("cannot create journal file", path));
  fchmod(fd, 0600);  // whatever the umask said
  fd_ = fd;
  file_bytes_ = 0;
  ++stats_.files_opened;
  // a fresh clock offset per file: wall time may have been stepped since the last one
  meta_.clock = ClockMap::now();
  meta_.created_wall_ns = meta_.clock.to_wall_ns(monotonic_now_ns());
  meta_.sequence = sequence_;
  meta_.record_size = sizeof(cr_event);
  write_all(encode_header(meta_, CR_EVENT_VERSION));
  fdatasync(fd_);
  // the directory entry too, or a crash could lose the whole new file
  if (const int dfd = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    fsync(dfd);
    ::close(dfd);
  }
  delete_old_files();
}

void Writer::delete_old_files() {
  auto seqs = sequences_in(options_.dir);
  while (seqs.size() > options_.max_files) {
    const std::string victim = options_.dir + "/" + file_name(seqs.front());
    if (unlink(victim.c_str()) == 0) ++stats_.files_deleted;
    seqs.erase(seqs.begin());
  }
}

void Writer::write_all(std::span<const std::byte> bytes) {
  // one write() per record; a loop only for the rare short write
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ++stats_.write_errors;
      throw WriterError(errno_text("write failed on", current_path()));
    }
    done += static_cast<size_t>(n);
  }
  file_bytes_ += bytes.size();
  stats_.bytes += bytes.size();
  dirty_ = true;
}

void Writer::append(RecordKind kind, std::span<const std::byte> payload) {
  if (fd_ < 0) throw WriterError("journal not open");
  const std::vector<std::byte> rec = encode_record(kind, payload);
  if (file_bytes_ + rec.size() > options_.max_file_bytes && file_bytes_ > 0) reopen();
  write_all(rec);
  ++stats_.records;
}

void Writer::reopen() {
  close_current(/*clean=*/true);
  open_next();
}

void Writer::sync_if_due(uint64_t now_ns) {
  if (fd_ < 0 || !dirty_ || now_ns - last_sync_ns_ < options_.sync_interval_ns) return;
  fdatasync(fd_);
  dirty_ = false;
  last_sync_ns_ = now_ns;
}

void Writer::close_current(bool clean) {
  if (fd_ < 0) return;
  if (clean) {
    try {
      write_all(encode_record(RecordKind::End, {}));
    } catch (const WriterError&) {
      // the file stays readable; the reader reports the missing end record
    }
  }
  fdatasync(fd_);
  ::close(fd_);
  fd_ = -1;
  dirty_ = false;
}

void Writer::close() { close_current(/*clean=*/true); }

}  // namespace connreset::journal
