#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace connreset::journal {

// fdatasync/fsync/close of journal files on a thread of their own. The recorder's one thread
// also drains the kernel's ring buffer: an fdatasync there (once a second, at rotation) waited
// 60 ms at a storm's highest rate and longer when other processes' writes share the
// filesystem's journal commit, while a 4 MiB ring holds ~100-200 ms of records at those
// rates - one such wait lost 9,879 events (issue #14). Jobs run in order; a file handed over
// with sync_and_close() is closed here, after its earlier syncs. Started before privileges are
// dropped (no thread can be created under the seccomp filter).
class Syncer {
 public:
  Syncer();
  ~Syncer();  // finishes every queued job
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  void sync(int fd, std::string path);            // fdatasync; skipped while a sync of fd waits
  void sync_and_close(int fd, std::string path);  // fdatasync, then close: the fd is the syncer's now
  void sync_dir(int dir_fd, std::string path);    // fsync of the directory (a new file's entry)
  // Waits until every job queued so far ran; returns the first failure since the last call, or "".
  std::string drain();
  // The first failure since the last call without waiting, or "".
  std::string take_error();

 private:
  enum class Kind { Sync, SyncClose, SyncDir };
  struct Job {
    Kind kind;
    int fd;
    std::string path;
  };
  void push(Job job);
  void loop();
  std::mutex mu_;
  std::condition_variable wake_, idle_;
  std::deque<Job> jobs_;
  bool busy_ = false;
  bool stop_ = false;
  std::string error_;
  std::thread thread_;  // last: started once the rest is set up
};

}  // namespace connreset::journal
