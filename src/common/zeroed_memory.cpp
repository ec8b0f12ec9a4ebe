#include "common/zeroed_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>

namespace connreset {

ZeroedMemory::ZeroedMemory(size_t bytes) : n_(bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  if (bytes < kHugePage) {
    mapped_ = (bytes + page - 1) / page * page;
    if (mapped_ == 0) mapped_ = page;
    void* m = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    p_ = m;
    return;
  }
  // A huge page needs a 2 MiB-aligned range: map one huge page more than needed and trim the
  // ends (kernels since 6.7 align large anonymous mappings themselves; older ones do not)
  mapped_ = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* m = mmap(nullptr, mapped_ + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(m);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
  if (aligned > start) munmap(m, aligned - start);
  const uintptr_t end = start + mapped_ + kHugePage;
  if (end > aligned + mapped_) munmap(reinterpret_cast<void*>(aligned + mapped_), end - (aligned + mapped_));
  p_ = reinterpret_cast<void*>(aligned);
  madvise(p_, mapped_, MADV_HUGEPAGE);
}

ZeroedMemory::~ZeroedMemory() {
  if (p_) munmap(p_, mapped_);
}

}  // namespace connreset
