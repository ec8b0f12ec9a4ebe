#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "sinks/sink.h"

namespace connreset {

// Keeps explanations in memory so a caller on another thread can wait for
// one (demo, e2e tests).
class CollectingSink : public Sink {
 public:
  void reset(const Explanation& x) override {
    std::lock_guard lock(mutex_);
    resets_.push_back(x);
    cv_.notify_all();
  }
  void lifecycle(const LifecycleEvent& ev) override {
    std::lock_guard lock(mutex_);
    lifecycle_.push_back(ev);
    cv_.notify_all();
  }
  std::vector<LifecycleEvent> lifecycle_events() {
    std::lock_guard lock(mutex_);
    return lifecycle_;
  }
  void finding(const Finding& f) override {
    std::lock_guard lock(mutex_);
    findings_.push_back(f);
    cv_.notify_all();
  }
  std::vector<Finding> findings() {
    std::lock_guard lock(mutex_);
    return findings_;
  }
  void warning(const std::string& text) override {
    std::lock_guard lock(mutex_);
    warnings_.push_back(text);
  }

  using Pred = std::function<bool(const Explanation&)>;
  std::optional<Explanation> wait_for(const Pred& pred, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    std::optional<Explanation> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const Explanation& x : resets_) {
        if (pred(x)) {
          found = x;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  // Tests wait on what they expect to see, with a deadline, never a fixed sleep.
  std::optional<Finding> wait_for_finding(const std::function<bool(const Finding&)>& pred,
                                          std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    std::optional<Finding> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const Finding& f : findings_) {
        if (pred(f)) found = f;
      }
      return found.has_value();
    });
    return found;
  }
  bool wait_for_lifecycle(const std::function<bool(const std::vector<LifecycleEvent>&)>& pred,
                          std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(lifecycle_); });
  }
  std::vector<Explanation> matching(const Pred& pred) {
    std::lock_guard lock(mutex_);
    std::vector<Explanation> out;
    for (const Explanation& x : resets_) {
      if (pred(x)) out.push_back(x);
    }
    return out;
  }
  std::vector<std::string> warnings() {
    std::lock_guard lock(mutex_);
    return warnings_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Explanation> resets_;
  std::vector<std::string> warnings_;
  std::vector<LifecycleEvent> lifecycle_;
  std::vector<Finding> findings_;
};

}  // namespace connreset
