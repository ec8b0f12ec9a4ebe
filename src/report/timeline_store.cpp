#include "report/timeline_store.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace connreset::report {
namespace {
enum : uint8_t { kHasSocket = 1, kLinger = 2, kExiting = 4 };
}

TimelineStore::TimelineStore(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)), ring_memory_(capacity_ * sizeof(Slot)) {
  ring_ = static_cast<Slot*>(ring_memory_.get());  // zero-filled: every slot reads as empty (seq 0)
  rehash();
}

// Eight consecutive cookies share a run of eight buckets (two cache lines), the runs
// spread by a multiplicative hash of the rest. A host numbers its sockets in the order
// it first sees them, so a connection's two ends and its neighbours in time are
// usually within a few cookies: an event's bucket is then mostly in a cache line an
// event just before it touched, where a hash of the whole cookie made nearly every
// lookup a cache miss (a tenth of a text report's time).
size_t TimelineStore::bucket(uint64_t cookie) const {
  const uint64_t run = ((cookie >> 3) * 0x9E3779B97F4A7C15ull) >> 32;
  return ((run << 3) | (cookie & 7)) & (heads_size_ - 1);
}

uint64_t* TimelineStore::find_head(uint64_t cookie) const {
  const size_t mask = heads_size_ - 1;
  for (size_t i = bucket(cookie);; i = (i + 1) & mask) {
    const Head& h = heads_[i];
    if (h.cookie == cookie) return const_cast<uint64_t*>(&h.seq);
    if (h.cookie == 0) return nullptr;
  }
}

// A new cookie takes the first bucket on its way whose cookie is stale (its latest event
// has left the ring) if there is one: stale cookies are most of the table in a storm, and
// reusing their buckets keeps it from filling up (each rehash is a table's worth of new pages).
// No cookie is entered twice: the whole chain is searched for it before one is taken.
uint64_t& TimelineStore::head_for(uint64_t cookie) {
  if ((heads_used_ + 1) * 2 > heads_size_) rehash();
  const size_t mask = heads_size_ - 1;
  Head* stale = nullptr;
  for (size_t i = bucket(cookie);; i = (i + 1) & mask) {
    Head& h = heads_[i];
    if (h.cookie == cookie) return h.seq;
    if (h.cookie == 0) {
      Head& into = stale ? *stale : h;
      if (!stale) ++heads_used_;
      into.cookie = cookie;
      into.seq = 0;
      return into.seq;
    }
    if (!stale && !live(h.seq)) stale = &h;
  }
}

// Also how stale cookies go: only those whose latest event is still in the ring move over,
// into a table a quarter full, so the next rehash is as many new cookies away as there are live.
// The new table is a fresh mapping (zero pages are empty buckets: nothing to fill).
void TimelineStore::rehash() {
  const ZeroedMemory old_memory = std::move(heads_memory_);  // unmapped on return
  const Head* old = heads_;
  const size_t old_size = heads_size_;
  size_t live_count = 0;
  for (size_t i = 0; i < old_size; ++i) live_count += old[i].cookie != 0 && live(old[i].seq);
  size_t buckets = 1024;
  while (live_count * 4 > buckets) buckets *= 2;
  heads_memory_ = ZeroedMemory(buckets * sizeof(Head));
  heads_ = static_cast<Head*>(heads_memory_.get());
  heads_size_ = buckets;
  heads_used_ = 0;
  for (size_t i = 0; i < old_size; ++i) {
    if (old[i].cookie != 0 && live(old[i].seq)) head_for(old[i].cookie) = old[i].seq;
  }
}

void TimelineStore::add(const Event& ev) {
  if (ev.cookie == 0) return;
  const uint64_t seq = next_seq_++;
  Slot& s = ring_[(seq - 1) % capacity_];
  s.seq = seq;
  uint64_t& head = head_for(ev.cookie);
  s.prev = head;
  head = seq;
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
}

void TimelineStore::collect(uint64_t cookie, size_t max, std::vector<Event>& out) const {
  const uint64_t* head = find_head(cookie);
  if (!head) return;
  const size_t first = out.size();
  for (uint64_t seq = *head; live(seq) && out.size() - first < max;) {
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
