#pragma once
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace connreset {

// A multimap from Key to Value held in one array: open addressing, linear probing from a
// Fibonacci hash, at most half full, erase by backward shift (as StableTable's index). Each
// slot keeps its key's full hash, so a probe compares the hash first and never hashes a stored
// key again. The correlator's pending-case indexes (by socket generation, by tuple) were
// std::unordered_multimaps: a heap node per entry, a bucket walk that hashed every node it
// passed (the hash codes were not cached) and two cache misses per step - ~20% of `trace
// --json`'s CPU in a reset storm (perf, issue #14). Entries of one key are visited in no
// particular order; callers that need an order break ties themselves.
template <class Key, class Value, class Hash>
class FlatMultiIndex {
 public:
  size_t size() const { return size_; }

  void add(const Key& key, const Value& value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(Slot{stored_hash(key), key, value});
    ++size_;
  }

  // Removes one entry (key, value); false: there is none.
  bool remove(const Key& key, const Value& value) {
    if (slots_.empty()) return false;
    const uint64_t h = stored_hash(key);
    size_t i = home(h);
    for (;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.hash) return false;
      if (s.hash == h && s.value == value && s.key == key) break;
    }
    // backward shift: pull later entries of the probe run into the hole unless that would put
    // one before its home slot
    for (size_t j = (i + 1) & mask_; slots_[j].hash; j = (j + 1) & mask_) {
      const size_t hj = home(slots_[j].hash);
      if (((j - hj) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Slot{};
    --size_;
    return true;
  }

  // fn(const Value&) for every entry of key. fn must not change the index.
  template <class Fn>
  void for_each(const Key& key, Fn&& fn) const {
    if (slots_.empty()) return;
    const uint64_t h = stored_hash(key);
    for (size_t i = home(h); slots_[i].hash; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.hash == h && s.key == key) fn(s.value);
    }
  }

  // True when pred(const Value&) holds for an entry of key (stops at the first).
  template <class Pred>
  bool any_of(const Key& key, Pred&& pred) const {
    if (slots_.empty()) return false;
    const uint64_t h = stored_hash(key);
    for (size_t i = home(h); slots_[i].hash; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.hash == h && s.key == key && pred(s.value)) return true;
    }
    return false;
  }

  bool contains(const Key& key) const {
    return any_of(key, [](const Value&) { return true; });
  }

  // Empties the index; its memory is kept for the next entries.
  void clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    size_ = 0;
  }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: empty
    Key key{};
    Value value{};
  };
  static constexpr size_t kMinSlots = 64;

  // the key's hash, spread over all 64 bits (socket generations are consecutive numbers), never 0
  static uint64_t stored_hash(const Key& key) {
    const uint64_t h = static_cast<uint64_t>(Hash{}(key)) * 0x9E3779B97F4A7C15ull;
    return h ? h : 1;
  }
  size_t home(uint64_t hash) const { return static_cast<size_t>(hash >> shift_); }

  void place(const Slot& slot) {
    size_t i = home(slot.hash);
    while (slots_[i].hash) i = (i + 1) & mask_;
    slots_[i] = slot;
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t n = old.empty() ? kMinSlots : old.size() * 2;
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
    for (const Slot& s : old) {
      if (s.hash) place(s);
    }
  }

  std::vector<Slot> slots_;  // a power of two of them, empty before the first add
  size_t mask_ = 0;
  unsigned shift_ = 64;
  size_t size_ = 0;
};

}  // namespace connreset
