#include "report/timeline_store.h"

#include <algorithm>
#include <cstring>

namespace connreset::report {
namespace {
enum : uint8_t { kHasSocket = 1, kLinger = 2, kExiting = 4 };
}

// The ring grows to its capacity as events come (reserved, not touched): a
// small journal does not pay for clearing the whole of it.
TimelineStore::TimelineStore(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {
  ring_.reserve(capacity_);
}

void TimelineStore::add(const Event& ev) {
  if (ev.cookie == 0) return;
  const uint64_t seq = next_seq_++;
  if (ring_.size() < capacity_) ring_.emplace_back();
  Slot& s = ring_[(seq - 1) % capacity_];
  s.seq = seq;
  auto [it, fresh] = last_.try_emplace(ev.cookie, 0);
  s.prev = fresh ? 0 : it->second;
  it->second = seq;
  s.ts_ns = ev.ts_ns;
  s.count = ev.count;
  s.bytes = ev.bytes;
  s.ret = ev.ret;
  s.unread = ev.unread;
  s.linger_ms = ev.linger_ms;
  s.pid = ev.task.pid;
  s.type = static_cast<uint8_t>(ev.type);
  s.state = ev.state;
  s.old_state = ev.old_state;
  s.reason = static_cast<uint8_t>(ev.reason);
  s.shutdown = ev.shutdown;
  s.call = static_cast<uint8_t>(ev.call);
  s.phase = static_cast<uint8_t>(ev.phase);
  s.flags = static_cast<uint8_t>((ev.has_socket ? kHasSocket : 0) | (ev.linger_on ? kLinger : 0) |
                                 (ev.task_exiting ? kExiting : 0));
  s.comm.fill(0);
  std::memcpy(s.comm.data(), ev.task.comm.data(), std::min(ev.task.comm.size(), s.comm.size() - 1));
  // the map would otherwise keep every cookie ever seen: drop the overwritten ones once per lap
  if (seq % capacity_ == 0) prune();
}

void TimelineStore::prune() {
  for (auto it = last_.begin(); it != last_.end();) {
    it = live(it->second) ? std::next(it) : last_.erase(it);
  }
}

void TimelineStore::collect(uint64_t cookie, size_t max, std::vector<Event>& out) const {
  auto it = last_.find(cookie);
  if (it == last_.end()) return;
  const size_t first = out.size();
  for (uint64_t seq = it->second; live(seq) && out.size() - first < max;) {
    const Slot& s = ring_[(seq - 1) % capacity_];
    if (s.seq != seq) break;
    Event& ev = out.emplace_back();
    ev.cookie = cookie;
    ev.ts_ns = s.ts_ns;
    ev.count = s.count;
    ev.bytes = s.bytes;
    ev.ret = s.ret;
    ev.unread = s.unread;
    ev.linger_ms = s.linger_ms;
    ev.task.pid = s.pid;
    ev.task.comm.assign(s.comm.data(), strnlen(s.comm.data(), s.comm.size()));
    ev.type = static_cast<EventType>(s.type);
    ev.state = s.state;
    ev.old_state = s.old_state;
    ev.reason = static_cast<RstReason>(s.reason);
    ev.shutdown = s.shutdown;
    ev.call = static_cast<Call>(s.call);
    ev.phase = static_cast<Phase>(s.phase);
    ev.has_socket = s.flags & kHasSocket;
    ev.linger_on = s.flags & kLinger;
    ev.task_exiting = s.flags & kExiting;
    seq = s.prev;
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
}

}  // namespace connreset::report
