#include "journal/writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "common/clock.h"
#include "connreset.h"

namespace connreset::journal {

namespace {

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string octal(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// Every name in the directory, through a handle of its own (fdopendir takes it over).
template <typename Fn>
bool for_each_name(int dir_fd, Fn fn) {
  const int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  DIR* d = fdopendir(fd);
  if (!d) {
    ::close(fd);
    return false;
  }
  while (const dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) fn(std::string(e->d_name));
  }
  closedir(d);
  return true;
}

}  // namespace

Writer::Writer(WriterOptions options) : options_(std::move(options)) {
  if (options_.max_files == 0) options_.max_files = 1;
  const std::string& dir = options_.dir;
  const uid_t writer = options_.writer_uid.value_or(geteuid());
  const gid_t writer_gid = options_.writer_uid ? options_.writer_gid : getegid();
  bool created = false;
  if (mkdir(dir.c_str(), 0700) == 0) {
    created = true;
  } else if (errno != EEXIST) {
    throw WriterError(errno_text("cannot create directory", dir));
  }
  // O_NOFOLLOW: a symlink at --out is refused, not followed to wherever it points
  dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat link {};
  if (dir_fd_ < 0 && (errno == ELOOP || (lstat(dir.c_str(), &link) == 0 && S_ISLNK(link.st_mode)))) {
    throw WriterError(dir + ": a symbolic link; give the journal directory itself");
  }
  if (dir_fd_ < 0) {
    if (errno == ELOOP) throw WriterError(dir + ": a symbolic link; give the journal directory itself");
    if (errno == ENOTDIR) throw WriterError(dir + ": not a directory");
    throw WriterError(errno_text("cannot use", dir));
  }
  auto fail = [this](const std::string& why) {
    ::close(dir_fd_);
    dir_fd_ = -1;
    throw WriterError(why);
  };
  struct stat st {};
  if (fstat(dir_fd_, &st) != 0) fail(errno_text("cannot use", dir));
  if (created && fchown(dir_fd_, writer, writer_gid) != 0) fail(errno_text("cannot give to the recording user", dir));
  if (created) st.st_uid = writer;
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    fail(dir + ": group- or world-writable (mode " + octal(st.st_mode) +
         "): others could delete or replace journal files; use a private directory (chmod 0700)");
  }
  if (st.st_uid != writer) {
    // The recorder writes here as `writer` after dropping privileges: a
    // directory of another user (even one root can write into now) would
    // fail at the first rotation. A root-owned one that holds nothing but
    // journals (systemd's StateDirectory) is handed over; anything else
    // could be a system directory, and is refused.
    bool only_journals = st.st_uid == 0;
    if (only_journals) {
      for_each_name(dir_fd_, [&](const std::string& name) {
        if (!sequence_of(name)) only_journals = false;
      });
    }
    if (!only_journals || fchown(dir_fd_, writer, writer_gid) != 0) {
      fail(dir + ": owned by uid " + std::to_string(st.st_uid) + ", but the recorder writes as uid " +
           std::to_string(writer) + " once attached (--user): chown the directory to that user, or "
           "give a directory of its own");
    }
    note_ = dir + " (owned by root, only journals in it) now belongs to uid " + std::to_string(writer) +
            ", the user record writes as";
  }
  if ((st.st_mode & S_IRWXU) != S_IRWXU && fchmod(dir_fd_, (st.st_mode & 07777) | S_IRWXU) != 0) {
    fail(errno_text("cannot make the journal directory usable by its owner:", dir));
  }
  if (flock(dir_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) fail(dir + ": another connreset record is writing into this directory");
    fail(errno_text("cannot lock", dir));
  }
  // continue after the newest file already there; never append to an old one
  const auto existing = files_in_dir();
  sequence_ = existing.empty() ? 0 : existing.rbegin()->first;
  if (sequence_ == std::numeric_limits<uint64_t>::max()) {
    fail(dir + " holds " + file_name(sequence_) + ": no sequence number comes after it; move the "
         "journals in it elsewhere (report reads them from anywhere) or use another directory");
  }
  syncer_ = std::make_unique<Syncer>();  // its thread, now: none can be created once confined
}

Writer::~Writer() {
  if (fd_ >= 0) close_current(/*clean=*/false);
  if (syncer_) syncer_->drain();  // its last jobs may still use dir_fd_
  syncer_.reset();
  if (dir_fd_ >= 0) ::close(dir_fd_);  // releases the lock
}

std::string Writer::current_path() const { return options_.dir + "/" + file_name(sequence_); }

std::map<uint64_t, ino_t> Writer::files_in_dir() const {
  std::map<uint64_t, ino_t> out;
  for_each_name(dir_fd_, [&](const std::string& name) {
    struct stat st {};
    if (auto seq = sequence_of(name); seq && fstatat(dir_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      out[*seq] = st.st_ino;
    }
  });
  return out;
}

size_t Writer::files_on_disk() const { return files_in_dir().size(); }

uint64_t Writer::events_on_disk() const {
  const auto on_disk = files_in_dir();
  uint64_t n = 0;
  for (const auto& [seq, f] : written_) {
    const auto it = on_disk.find(seq);
    if (it != on_disk.end() && it->second == f.inode) n += f.events;
  }
  return n;
}

void Writer::open(const Meta& meta) {
  meta_ = meta;
  open_next();
}

void Writer::open_next() {
  // the sequence never wraps: a wrapped number would sort first and be the next file rotation deletes
  if (sequence_ == std::numeric_limits<uint64_t>::max()) {
    throw WriterError(options_.dir + ": journal sequence exhausted at " + file_name(sequence_));
  }
  ++sequence_;
  const std::string name = file_name(sequence_);
  const std::string path = current_path();
  const int fd = openat(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const std::string why = errno_text("cannot create journal file", path);
    // a directory being deleted (rm -r) loses the file first: the replacement then fails here
    if (directory_deleted()) throw WriterError(directory_deleted_error());
    throw WriterError(why);
  }
  struct stat st {};
  if (fchmod(fd, 0600) != 0 || fstat(fd, &st) != 0) {  // whatever the umask said
    const std::string why = errno_text("cannot set up journal file", path);
    ::close(fd);
    throw WriterError(why);
  }
  fd_ = fd;
  file_bytes_ = 0;
  ++stats_.files_opened;
  written_[sequence_] = FileOfThisRun{st.st_ino, 0};
  // a fresh clock offset per file: wall time may have been stepped since the last one
  meta_.clock = ClockMap::now();
  meta_.created_wall_ns = meta_.clock.to_wall_ns(monotonic_now_ns());
  meta_.sequence = sequence_;
  meta_.record_size = sizeof(cr_event);
  write_all(encode_header(meta_, CR_EVENT_VERSION));
  syncer_->sync(fd_, path);
  // the directory entry too, or a crash could lose the whole new file
  syncer_->sync_dir(dir_fd_, options_.dir);
  delete_old_files();
}

void Writer::delete_old_files() {
  // the file being written is never a candidate, whatever its number
  std::vector<uint64_t> others;
  for (const auto& [seq, ino] : files_in_dir()) {
    if (seq != sequence_) others.push_back(seq);
  }
  size_t total = others.size() + 1;
  for (size_t i = 0; i < others.size() && total > options_.max_files; ++i) {
    const std::string name = file_name(others[i]);
    if (unlinkat(dir_fd_, name.c_str(), 0) != 0) continue;  // gone already, or not ours to delete
    ++stats_.files_deleted;
    --total;
    if (auto it = written_.find(others[i]); it != written_.end()) {
      stats_.events_deleted += it->second.events;
      written_.erase(it);
    }
  }
}

void Writer::write_all(std::span<const std::byte> bytes) {
  flush();
  write_out(bytes);
  file_bytes_ += bytes.size();
  stats_.bytes += bytes.size();
}

void Writer::flush() {
  if (batch_.empty() || fd_ < 0) return;
  try {
    write_out(batch_);
  } catch (const WriterError&) {
    batch_.clear();  // not retried: the recorder stops at the first write error
    throw;
  }
  batch_.clear();
}

void Writer::write_out(std::span<const std::byte> bytes) {
  // one write() per batch; a loop only for the rare short write
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ++stats_.write_errors;
      if (n == 0) errno = EIO;
      throw WriterError(errno_text("write failed on", current_path()));
    }
    done += static_cast<size_t>(n);
  }
  dirty_ = true;
}

void Writer::append(RecordKind kind, std::span<const std::byte> payload) {
  if (fd_ < 0) throw WriterError("journal not open");
  const size_t size = kFrameSize + payload.size();
  if (file_bytes_ + size > options_.max_file_bytes && file_bytes_ > 0) reopen();
  if (batch_.capacity() < kBatchBytes) batch_.reserve(kBatchBytes + size);
  append_record(batch_, kind, payload);
  file_bytes_ += size;  // counted as written: rotation and stats see the batch too
  stats_.bytes += size;
  if (batch_.size() >= kBatchBytes) flush();
  ++stats_.records;
  if (kind == RecordKind::Event) {
    ++stats_.events;
    ++written_[sequence_].events;
  }
}

void Writer::reopen() {
  if (std::string err = close_current(/*clean=*/true); !err.empty()) throw WriterError(err);
  open_next();
}

std::string Writer::sync_if_due(uint64_t now_ns) {
  if (fd_ < 0 || now_ns - last_sync_ns_ < options_.sync_interval_ns) return "";
  last_sync_ns_ = now_ns;
  if (std::string failed = syncer_->take_error(); !failed.empty()) throw WriterError(failed);
  flush();
  if (dirty_) {
    syncer_->sync(fd_, current_path());
    dirty_ = false;
  }
  // Writing on into an unlinked file or directory "succeeds" and is lost at close.
  struct stat dir {}, file {};
  if (fstat(dir_fd_, &dir) != 0 || fstat(fd_, &file) != 0) {
    throw WriterError(errno_text("cannot check", current_path()));
  }
  if (dir.st_nlink == 0) throw WriterError(directory_deleted_error());
  if (file.st_nlink == 0) {
    const std::string gone = current_path();
    reopen();
    return gone + " was deleted while being written (its events are lost); now writing " + current_path();
  }
  return "";
}

bool Writer::directory_deleted() const {
  struct stat dir {};
  return fstat(dir_fd_, &dir) == 0 && dir.st_nlink == 0;
}

std::string Writer::directory_deleted_error() const {
  return "the journal directory " + options_.dir +
         " was deleted while recording: nothing written there can be read; stopping";
}

std::string Writer::close_current(bool clean) {
  if (fd_ < 0) return "";
  std::string err;
  try {
    flush();
    if (clean) write_all(encode_record(RecordKind::End, {}));
  } catch (const WriterError& e) {
    err = e.what();  // the file stays readable; the reader reports the missing end record
  }
  // fdatasync and close on the syncer's thread (their failures come back from take_error/drain)
  syncer_->sync_and_close(fd_, current_path());
  fd_ = -1;
  dirty_ = false;
  return err;
}

void Writer::close() {
  std::string err = close_current(/*clean=*/true);
  // the last word: every sync and close queued so far, done
  if (std::string failed = syncer_ ? syncer_->drain() : ""; err.empty()) err = failed;
  if (!err.empty()) throw WriterError(err);
}

}  // namespace connreset::journal
