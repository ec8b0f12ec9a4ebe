#pragma once
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "common/zeroed_memory.h"

namespace connreset {

// A map from a 64-bit key (a socket cookie) to T whose elements never move: a pointer to one
// stays valid until it is erased (the correlator links its sockets into an LRU list through
// them). std::unordered_map gave that with one heap node per element, chained buckets and a
// division per lookup: ~7% of `report` on 8 merged hosts, and a share of trace's per-event cost
// in a reset storm. Here the elements live in slabs and are reused last-freed-first (still warm
// in the cache), and the index is open-addressed: linear probing from a Fibonacci hash (one
// multiply, no division; see home()), at most half full, erase by backward shift (no tombstones to pile up).
// The slabs keep the peak number of elements allocated, as the recycled nodes did before, and
// are freed only with the table: a pointer to an erased element still points at a T (reset,
// or another key's since).
// A fresh tracer in a reset storm or under a connection-per-request service fills the table
// (65,536 closed sockets kept by default) in its first seconds: page faults on new slabs and
// on each doubled index were ~40% of trace's CPU then (perf, issue #14). So the index is
// zeroed memory (an empty slot is all zeros: nothing to write before use, huge pages from
// 2 MiB on) and, past the first few small slabs, slabs are 2 MiB huge-page chunks.
template <class T>
class StableTable {
 public:
  StableTable() = default;
  StableTable(const StableTable&) = delete;
  StableTable& operator=(const StableTable&) = delete;
  ~StableTable() {
    for (Slab& slab : slabs_) std::destroy_n(slab.items, slab.count);
  }

  size_t size() const { return size_; }

  T* find(uint64_t key) const {
    if (!slots_) return nullptr;
    for (size_t i = home(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.value) return nullptr;
      if (s.key == key) return s.value;
    }
  }

  // A default-constructed element for a key that is not in the table.
  T& insert(uint64_t key) {
    if ((size_ + 1) * 2 > capacity_) grow();
    T* value = allocate();
    place(key, value);
    ++size_;
    return *value;
  }

  // Erases key's element (reset to T{}, its storage kept for the next insert).
  void erase(uint64_t key) {
    if (!slots_) return;
    size_t i = home(key);
    for (;; i = (i + 1) & mask_) {
      if (!slots_[i].value) return;
      if (slots_[i].key == key) break;
    }
    T* value = slots_[i].value;
    // backward shift: pull later entries of the probe run into the hole unless that would
    // put one before its home slot
    for (size_t j = (i + 1) & mask_; slots_[j].value; j = (j + 1) & mask_) {
      const size_t h = home(slots_[j].key);
      if (((j - h) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Slot{};
    --size_;
    *value = T{};
    free_.push_back(value);
  }

 private:
  struct Slot {
    uint64_t key = 0;
    T* value = nullptr;  // nullptr: empty (all zero bytes, as fresh zeroed memory is)
  };
  // Elements constructed in place; destroyed by ~StableTable.
  struct Slab {
    ZeroedMemory memory;
    T* items = nullptr;
    size_t count = 0;
  };
  static constexpr size_t kSlab = 256;  // elements per small slab
  static constexpr size_t kSmallSlabs = 4;  // then 2 MiB slabs: a small table stays small
  static constexpr size_t kMinSlots = 64;

  // Eight consecutive keys share a run of eight slots (two cache lines), the runs spread by a
  // Fibonacci hash of the rest: a host numbers its sockets in the order it sees them, so the
  // sockets of neighbouring events are mostly neighbours here too (report/timeline_store.cpp
  // does the same). A hash of the whole key made a single host's storm report ~5% slower than
  // the chained buckets, whose identity hash had kept that order.
  size_t home(uint64_t key) const {
    const uint64_t run = ((key >> 3) * 0x9E3779B97F4A7C15ull) >> shift_;
    return static_cast<size_t>(((run << 3) | (key & 7)) & mask_);
  }

  void place(uint64_t key, T* value) {
    size_t i = home(key);
    while (slots_[i].value) i = (i + 1) & mask_;
    slots_[i] = Slot{key, value};
  }

  void grow() {
    const ZeroedMemory old_memory = std::move(slots_memory_);  // unmapped on return
    const Slot* old = slots_;
    const size_t old_n = capacity_;
    const size_t n = old_n == 0 ? kMinSlots : old_n * 2;
    slots_memory_ = ZeroedMemory(n * sizeof(Slot));
    slots_ = static_cast<Slot*>(slots_memory_.get());  // zero-filled: every slot is empty
    capacity_ = n;
    mask_ = n - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(n)) + 3;  // run numbers: n / 8 of them
    for (size_t i = 0; i < old_n; ++i) {
      if (old[i].value) place(old[i].key, old[i].value);
    }
  }

  T* allocate() {
    if (free_.empty()) {
      const size_t bytes = slabs_.size() < kSmallSlabs ? kSlab * sizeof(T)
                                                       : std::max(ZeroedMemory::kHugePage, sizeof(T));
      const size_t count = bytes / sizeof(T);
      Slab slab;
      slab.memory = ZeroedMemory(bytes);
      slab.items = static_cast<T*>(slab.memory.get());
      std::uninitialized_value_construct_n(slab.items, count);
      slab.count = count;
      slabs_.push_back(std::move(slab));
      T* items = slabs_.back().items;
      free_.reserve(free_.size() + count);
      for (size_t k = count; k > 0; --k) free_.push_back(items + k - 1);  // first element first
    }
    T* value = free_.back();
    free_.pop_back();
    return value;
  }

  ZeroedMemory slots_memory_;
  Slot* slots_ = nullptr;
  size_t capacity_ = 0;  // slots: a power of two, 0 before the first insert
  size_t mask_ = 0;
  unsigned shift_ = 64;
  size_t size_ = 0;
  std::vector<Slab> slabs_;
  std::vector<T*> free_;  // erased and never-used elements, reset
};

}  // namespace connreset
