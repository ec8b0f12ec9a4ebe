#include "common/clock.h"

#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace connreset {
namespace {

// trace and record each take their own monotonic -> wall offset (record keeps its own in the
// journal for report): the same reset must get the same ts_ns from both. Each offset is the
// tightest of several bracketed reads, so two of them taken apart agree within this, even on a
// host where a thread is preempted between two clock reads now and then.
constexpr int64_t kToleranceNs = 1'000'000;  // 1 ms

int64_t now_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

TEST(ClockMap, OffsetsTakenApartAgreeWithinAMillisecond) {
  int64_t worst_diff = 0, worst_uncertainty = 0;
  const ClockMap first = ClockMap::now();
  for (int i = 0; i < 200; ++i) {
    int64_t uncertainty = 0;
    const ClockMap m = ClockMap::now(&uncertainty);
    worst_diff = std::max(worst_diff, static_cast<int64_t>(std::llabs(m.realtime_minus_monotonic_ns - first.realtime_minus_monotonic_ns)));
    worst_uncertainty = std::max(worst_uncertainty, uncertainty);
  }
  std::cout << "[ clock    ] 200 offsets: largest difference " << worst_diff << " ns, largest uncertainty "
            << worst_uncertainty << " ns\n";
  EXPECT_LT(worst_diff, kToleranceNs);
  EXPECT_LT(worst_uncertainty, kToleranceNs / 2);
}

TEST(ClockMap, MapsMonotonicNowToRealtimeNow) {
  const ClockMap m = ClockMap::now();
  const int64_t mono = now_ns(CLOCK_MONOTONIC);
  const int64_t real = now_ns(CLOCK_REALTIME);
  EXPECT_LT(std::llabs(m.to_wall_ns(static_cast<uint64_t>(mono)) - real), kToleranceNs);
}

}  // namespace
}  // namespace connreset
