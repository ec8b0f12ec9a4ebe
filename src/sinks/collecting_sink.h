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
