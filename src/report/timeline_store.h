#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/zeroed_memory.h"
#include "decode/event.h"

namespace connreset::report {

// The recent events of every connection, so a reset reported as it settles
// can show its connection's life without a second pass over the journals.
// A ring of the last `capacity` events in a compact form, chained per socket
// cookie: memory is fixed whatever the journal's size, and a connection's
// history reaches back `capacity` events of the whole merged stream.
class TimelineStore {
 public:
  explicit TimelineStore(size_t capacity);
  TimelineStore(const TimelineStore&) = delete;
  TimelineStore& operator=(const TimelineStore&) = delete;

  void add(const Event& ev);  // events with a cookie; in stream order
  // cookie's stored events, oldest first; the most recent `max` when there are more
  void collect(uint64_t cookie, size_t max, std::vector<Event>& out) const;
  size_t capacity() const { return capacity_; }

 private:
  struct Slot {
    uint64_t seq = 0;   // 1-based position in the stream; 0: empty
    uint64_t prev = 0;  // seq of the same cookie's previous event
    uint64_t ts_ns = 0, count = 0, bytes = 0;
    int32_t ret = 0;
    uint32_t unread = 0, linger_ms = 0, pid = 0;
    uint8_t type = 0, state = 0, old_state = 0, reason = 0, shutdown = 0, call = 0, phase = 0, flags = 0;
    std::array<char, 16> comm{};
  };
  bool live(uint64_t seq) const { return seq != 0 && seq + capacity_ > next_seq_; }

  // cookie -> seq of its latest event: open addressing, linear probing, no node per cookie
  // (one event in ten or so is a new cookie in a storm; a node each was a malloc each).
  struct Head {
    uint64_t cookie = 0;  // 0: empty (events without a cookie are not stored)
    uint64_t seq = 0;
  };
  size_t bucket(uint64_t cookie) const;
  uint64_t* find_head(uint64_t cookie) const;
  uint64_t& head_for(uint64_t cookie);  // inserted (seq 0) when absent
  void rehash();

  size_t capacity_;
  // slot of seq: (seq - 1) % capacity_; zero pages until touched: a small journal
  // does not pay for all of it
  ZeroedMemory ring_memory_;
  Slot* ring_ = nullptr;
  uint64_t next_seq_ = 1;
  ZeroedMemory heads_memory_;  // a fresh zeroed mapping per rehash (all empty)
  Head* heads_ = nullptr;
  size_t heads_size_ = 0;  // a power of two
  size_t heads_used_ = 0;
};

}  // namespace connreset::report
