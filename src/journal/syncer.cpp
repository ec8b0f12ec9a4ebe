#include "journal/syncer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace connreset::journal {

Syncer::Syncer() : thread_([this] { loop(); }) {}

Syncer::~Syncer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Syncer::push(Job job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void Syncer::sync(int fd, std::string path) {
  {
    std::lock_guard lock(mu_);
    // a sync of this file still waits (a slow disk): it will cover what was written since
    for (const Job& j : jobs_) {
      if (j.kind == Kind::Sync && j.fd == fd) return;
    }
  }
  push({Kind::Sync, fd, std::move(path)});
}

void Syncer::sync_and_close(int fd, std::string path) { push({Kind::SyncClose, fd, std::move(path)}); }

void Syncer::sync_dir(int dir_fd, std::string path) { push({Kind::SyncDir, dir_fd, std::move(path)}); }

std::string Syncer::drain() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return jobs_.empty() && !busy_; });
  return std::exchange(error_, {});
}

std::string Syncer::take_error() {
  std::lock_guard lock(mu_);
  return std::exchange(error_, {});
}

void Syncer::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left to do
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    busy_ = true;
    lock.unlock();
    std::string failed;
    if (job.kind == Kind::SyncDir) {
      if (fsync(job.fd) != 0) failed = "fsync failed on " + job.path + ": " + std::strerror(errno);
    } else if (fdatasync(job.fd) != 0) {
      failed = "fdatasync failed on " + job.path + ": " + std::strerror(errno);
    }
    // close() can report a deferred write error (NFS, quota): it is the last word on the data
    if (job.kind == Kind::SyncClose && ::close(job.fd) != 0 && failed.empty()) {
      failed = "close failed on " + job.path + ": " + std::strerror(errno);
    }
    lock.lock();
    busy_ = false;
    if (!failed.empty() && error_.empty()) error_ = std::move(failed);
    if (jobs_.empty()) idle_.notify_all();
  }
}

}  // namespace connreset::journal
