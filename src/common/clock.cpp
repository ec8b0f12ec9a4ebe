#include "common/clock.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace connreset {
namespace {
int64_t read_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

ClockMap ClockMap::now(int64_t* uncertainty_ns) {
  // The realtime read is placed between two monotonic reads: the offset is known to within half
  // that bracket. One bracket can be tens of milliseconds wide when the thread is preempted
  // between the reads (seen in a busy VM: trace and record, each with its own offset, 38 ms
  // apart on the same reset), so take the tightest of several; a few vDSO calls each.
  constexpr int kSamples = 16;
  int64_t best_width = INT64_MAX, offset = 0;
  for (int i = 0; i < kSamples; ++i) {
    const int64_t m1 = read_ns(CLOCK_MONOTONIC);
    const int64_t r = read_ns(CLOCK_REALTIME);
    const int64_t m2 = read_ns(CLOCK_MONOTONIC);
    if (m2 - m1 < best_width) {
      best_width = m2 - m1;
      offset = r - (m1 + (m2 - m1) / 2);
    }
  }
  if (uncertainty_ns) *uncertainty_ns = best_width / 2 + 1;
  return ClockMap{offset};
}

uint64_t monotonic_now_ns() { return static_cast<uint64_t>(read_ns(CLOCK_MONOTONIC)); }

namespace {
// "YYYY-MM-DDTHH:MM:SS." and "HH:MM:SS." of the last second formatted, per thread: a
// report prints millions of times and most fall in the same second as the one before,
// so the calendar (gmtime/localtime) and printf are paid once per second, not per time.
struct SecondCache {
  int64_t secs = -1;
  char text[32] = {};
  size_t len = 0;
};

void append_digits(std::string& out, uint64_t v, int width) {
  char d[20];
  for (int i = width - 1; i >= 0; --i, v /= 10) d[i] = static_cast<char>('0' + v % 10);
  out.append(d, static_cast<size_t>(width));
}

std::string rfc3339_printf(int64_t wall_ns) {
  const time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000);
  const long nanos = static_cast<long>(wall_ns % 1'000'000'000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, nanos);
  return buf;
}
}  // namespace

char* put_rfc3339_ns(char* p, int64_t wall_ns) {
  // before 1970: the general form (signs) as it always printed; 64-bit ns end in 2262
  if (wall_ns < 0) {
    const std::string s = rfc3339_printf(wall_ns);
    const size_t n = std::min(s.size(), kRfc3339Max);
    std::memcpy(p, s.data(), n);
    return p + n;
  }
  thread_local SecondCache c;
  const int64_t secs = wall_ns / 1'000'000'000;
  if (secs != c.secs) {
    const time_t t = static_cast<time_t>(secs);
    tm utc{};
    gmtime_r(&t, &utc);
    const int n = std::snprintf(c.text, sizeof(c.text), "%04d-%02d-%02dT%02d:%02d:%02d.", utc.tm_year + 1900,
                                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
    c.len = std::min(static_cast<size_t>(n), sizeof(c.text) - 1);
    c.secs = secs;
  }
  std::memcpy(p, c.text, c.len);
  p += c.len;
  uint64_t v = static_cast<uint64_t>(wall_ns % 1'000'000'000);
  for (int i = 8; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
  p[9] = 'Z';
  return p + 10;
}

void append_rfc3339_ns(std::string& out, int64_t wall_ns) {
  char buf[kRfc3339Max];
  out.append(buf, put_rfc3339_ns(buf, wall_ns));
}

std::string rfc3339_ns(int64_t wall_ns) {
  std::string s;
  s.reserve(32);
  append_rfc3339_ns(s, wall_ns);
  return s;
}

void append_clock_hms_ms(std::string& out, int64_t wall_ns) {
  const int64_t secs = wall_ns / 1'000'000'000;
  const long millis = static_cast<long>((wall_ns % 1'000'000'000) / 1'000'000);
  if (millis < 0) {  // before 1970: as it always printed
    const time_t t = static_cast<time_t>(secs);
    tm local{};
    localtime_r(&t, &local);
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld", local.tm_hour, local.tm_min, local.tm_sec, millis);
    out += buf;
    return;
  }
  thread_local SecondCache c;
  if (secs != c.secs) {
    const time_t t = static_cast<time_t>(secs);
    tm local{};
    localtime_r(&t, &local);
    const int n = std::snprintf(c.text, sizeof(c.text), "%02d:%02d:%02d.", local.tm_hour, local.tm_min, local.tm_sec);
    c.len = static_cast<size_t>(n);
    c.secs = secs;
  }
  out.append(c.text, c.len);
  append_digits(out, static_cast<uint64_t>(millis), 3);
}

std::string clock_hms_ms(int64_t wall_ns) {
  std::string s;
  append_clock_hms_ms(s, wall_ns);
  return s;
}

}  // namespace connreset
