#pragma once
#include <cstdint>
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
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  JsonWriter& open();   // '{'
  JsonWriter& close();  // '}'
  JsonWriter& open_array();
  JsonWriter& close_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& str(std::string_view s);
  JsonWriter& num(uint64_t v);
  JsonWriter& num(int64_t v);
  JsonWriter& num(uint32_t v) { return num(uint64_t{v}); }
  JsonWriter& boolean(bool b);
  JsonWriter& null();
  JsonWriter& raw(std::string_view json_text);  // an already serialized value
  // strings that never need an escape, appended without a temporary (millions in a report)
  JsonWriter& rfc3339(int64_t wall_ns);      // "2026-11-24T12:00:01.532000123Z"
  JsonWriter& address(const Endpoint& e);    // "127.0.0.1", "::1"

 private:
  void before_value();
  void escaped(std::string_view s);
  bool quoted(std::string_view s, std::string_view suffix);
  std::string& out_;
  uint64_t first_ = 1;  // bit d: nothing written yet at depth d
  unsigned depth_ = 0;
  bool after_key_ = false;
};

}  // namespace connreset
