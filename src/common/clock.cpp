#include "common/clock.h"

#include <ctime>
#include <cstdio>

namespace connreset {
namespace {
int64_t read_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

ClockMap ClockMap::now() {
  // bracket the realtime read with two monotonic reads to halve the error
  const int64_t m1 = read_ns(CLOCK_MONOTONIC);
  const int64_t r = read_ns(CLOCK_REALTIME);
  const int64_t m2 = read_ns(CLOCK_MONOTONIC);
  return ClockMap{r - (m1 + (m2 - m1) / 2)};
}

uint64_t monotonic_now_ns() { return static_cast<uint64_t>(read_ns(CLOCK_MONOTONIC)); }

std::string rfc3339_ns(int64_t wall_ns) {
  const time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000);
  const long nanos = static_cast<long>(wall_ns % 1'000'000'000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, nanos);
  return buf;
}

std::string clock_hms_ms(int64_t wall_ns) {
  const time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000);
  const long millis = static_cast<long>((wall_ns % 1'000'000'000) / 1'000'000);
  tm local{};
  localtime_r(&secs, &local);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld", local.tm_hour, local.tm_min, local.tm_sec,
                millis);
  return buf;
}

}  // namespace connreset
