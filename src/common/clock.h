#pragma once
#include <cstdint>
#include <climits>
#include <string>

namespace connreset {

// BPF timestamps are CLOCK_MONOTONIC; people read wall-clock time. The
// offset is taken once when tracing starts (and stored in journals).
struct ClockMap {
  int64_t realtime_minus_monotonic_ns = 0;

  // The current offset, from the tightest of several reads; *uncertainty_ns (if given): how far
  // from the true offset it can be (half the monotonic bracket around the realtime read).
  static ClockMap now(int64_t* uncertainty_ns = nullptr);
  // Saturates at 0 and INT64_MAX: an offset from a crafted journal must not wrap.
  int64_t to_wall_ns(uint64_t monotonic_ns) const {
    if (monotonic_ns > static_cast<uint64_t>(INT64_MAX)) monotonic_ns = INT64_MAX;
    int64_t wall = 0;
    if (__builtin_add_overflow(static_cast<int64_t>(monotonic_ns), realtime_minus_monotonic_ns, &wall)) {
      return realtime_minus_monotonic_ns > 0 ? INT64_MAX : 0;
    }
    return wall < 0 ? 0 : wall;
  }
};

uint64_t monotonic_now_ns();
std::string rfc3339_ns(int64_t wall_ns);     // 2026-11-24T12:00:01.532000123Z
std::string clock_hms_ms(int64_t wall_ns);   // 12:00:01.532 (local time)
// The same, appended to out (no string per call: reports print millions of times).
void append_rfc3339_ns(std::string& out, int64_t wall_ns);
// The same written at p, which must have kRfc3339Max bytes of room; returns the end.
inline constexpr size_t kRfc3339Max = 64;
char* put_rfc3339_ns(char* p, int64_t wall_ns);
void append_clock_hms_ms(std::string& out, int64_t wall_ns);

}  // namespace connreset
