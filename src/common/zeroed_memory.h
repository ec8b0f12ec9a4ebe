#pragma once
#include <cstddef>
#include <utility>

namespace connreset {

// Zero-filled anonymous memory, unmapped with the object: pages cost nothing until touched,
// and mappings of 2 MiB or more are aligned to 2 MiB and advised to transparent huge pages
// (MADV_HUGEPAGE; the kernel's default mode is "madvise"). On the development VM (a
// paravirtualized guest) a 4 KiB page fault costs 16-19 µs, a 2 MiB huge page ~115 µs:
// ~0.2 µs per 4 KiB. Tables that grow in a burst (the correlator's sockets in a reset storm,
// report's timelines) spent most of that burst in page faults. Harmless where refused.
class ZeroedMemory {
 public:
  static constexpr size_t kHugePage = size_t{2} << 20;

  ZeroedMemory() = default;
  explicit ZeroedMemory(size_t bytes);  // throws std::bad_alloc
  ~ZeroedMemory();
  ZeroedMemory(ZeroedMemory&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)), mapped_(std::exchange(o.mapped_, 0)) {}
  ZeroedMemory& operator=(ZeroedMemory&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(mapped_, o.mapped_);
    return *this;
  }
  void* get() const { return p_; }
  size_t size() const { return n_; }  // what was asked for

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
  size_t mapped_ = 0;  // n_ rounded up to whole pages (huge ones from 2 MiB on)
};

}  // namespace connreset
