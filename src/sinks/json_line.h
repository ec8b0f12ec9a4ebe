#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "explain/explanation.h"

namespace connreset {

// The reset line written straight into a string, byte for byte what dump_line(reset_to_json(x))
// with "host" gives (tests/unit/sinks_test.cpp compares the two), without building a json tree:
// in a reset storm the tree's allocations were half of `trace --json`'s CPU (perf, issue #14).
// reset_to_json stays the definition of the fields; this is the one direct writer of them, for
// trace/record --json and for report --json (issue #16).
// `recorded` (report): where each end of the reset was recorded, as receiver_host and
// sender_host (null for an end no journal recorded); trace lines have neither.
struct RecordedHosts {
  std::string_view receiver;
  std::string_view sender;
};
void append_reset_line(std::string& out, const Explanation& x, const ClockMap& clock, std::string_view host,
                       const RecordedHosts* recorded = nullptr);

// A minimal JSON object writer: keys must come in the order nlohmann::json (a std::map)
// would print them, i.e. sorted; strings are escaped as dump_line escapes them.
// The text is assembled in a buffer of the writer's own and appended to `out` when that fills
// and when the writer goes out of scope (read `out` only after that): a reset line has ~60
// keys and values, and growing a std::string by each of them was most of the line's cost in
// a reset storm (perf, issue #14).
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  ~JsonWriter() { spill(); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;
  JsonWriter& open();   // '{'
  JsonWriter& close();  // '}'
  JsonWriter& open_array();
  JsonWriter& close_array();
  // Keys are the program's own literals (plain ASCII: never escaped), copied at their known length.
  template <size_t N>
  JsonWriter& key(const char (&k)[N]) {
    static_assert(N > 1 && N + 3 <= kRoom);
    before_value();
    after_key_ = true;
    char* p = room(N + 2);
    *p = '"';
    std::memcpy(p + 1, k, N - 1);
    p[N] = '"';
    p[N + 1] = ':';
    used_ += N + 2;
    return *this;
  }
  JsonWriter& str(std::string_view s);
  // The program's own texts (cause ids, the catalog's advice and kernel paths, state names):
  // known to need no escape, so not scanned for one (a sixth of a reset line's bytes each)
  JsonWriter& plain(std::string_view s);
  JsonWriter& num(uint64_t v);
  JsonWriter& num(int64_t v);
  JsonWriter& num(uint32_t v) { return num(uint64_t{v}); }
  JsonWriter& boolean(bool b);
  JsonWriter& null();
  JsonWriter& raw(std::string_view json_text);  // an already serialized value
  // strings that never need an escape, written without a temporary (millions in a report)
  JsonWriter& rfc3339(int64_t wall_ns);      // "2026-11-24T12:00:01.532000123Z"
  JsonWriter& address(const Endpoint& e);    // "127.0.0.1", "::1"

 private:
  static constexpr size_t kRoom = 4096;
  // A comma before every value but the first of its object/array; none right after a key.
  // Inline: it runs before every key and value (~100 per reset line).
  void before_value() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    const uint64_t bit = uint64_t{1} << depth_;
    if (!(first_ & bit)) put(',');
    first_ &= ~bit;
  }
  void put(std::string_view s);
  void put(char c) { *room(1) = c; ++used_; }
  // n bytes of room at the end of the buffer (n <= kRoom), spilling it to out_ first if needed
  char* room(size_t n) {
    if (used_ + n > kRoom) spill();
    return buf_ + used_;
  }
  void spill() {
    out_.append(buf_, used_);
    used_ = 0;
  }
  void escaped(std::string_view s);
  void quoted(std::string_view s);
  std::string& out_;
  size_t used_ = 0;
  uint64_t first_ = 1;  // bit d: nothing written yet at depth d
  unsigned depth_ = 0;
  bool after_key_ = false;
  char buf_[kRoom];  // not zeroed: only [0, used_) is ever read
};

}  // namespace connreset
