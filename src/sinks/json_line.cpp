#include "sinks/json_line.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "common/names.h"
#include "sinks/json_format.h"

namespace connreset {

namespace {

// Whether some byte of s is '"', '\\', a control byte or not ASCII: eight bytes at a
// time (each test below is exact about whether any byte of the word matches). Almost
// no string of a report has one, and the byte loops below were a sixth of report --json.
bool needs_escape(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, sizeof(w));
    if ((w & kHighs) | ((w - 0x20 * kOnes) & ~w & kHighs) | has_zero(w ^ ('"' * kOnes)) |
        has_zero(w ^ ('\\' * kOnes))) {
      return true;
    }
  }
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80 || c < 0x20 || c == '"' || c == '\\') return true;
  }
  return false;
}

}  // namespace

void JsonWriter::put(std::string_view s) {
  if (s.size() > kRoom) {  // (a very long string: straight to out_)
    spill();
    out_.append(s);
    return;
  }
  if (!s.empty()) std::memcpy(room(s.size()), s.data(), s.size());  // (an empty view's data may be null)
  used_ += s.size();
}

JsonWriter& JsonWriter::open() {
  before_value();
  put('{');
  first_ |= uint64_t{1} << ++depth_;
  return *this;
}

JsonWriter& JsonWriter::close() {
  --depth_;
  put('}');
  return *this;
}

JsonWriter& JsonWriter::open_array() {
  before_value();
  put('[');
  first_ |= uint64_t{1} << ++depth_;
  return *this;
}

JsonWriter& JsonWriter::close_array() {
  --depth_;
  put(']');
  return *this;
}

JsonWriter& JsonWriter::str(std::string_view s) {
  before_value();
  escaped(s);
  return *this;
}

JsonWriter& JsonWriter::plain(std::string_view s) {
  before_value();
  quoted(s);
  return *this;
}

// '"' s '"', s written as it is
void JsonWriter::quoted(std::string_view s) {
  if (s.size() + 2 > kRoom) {
    put('"');
    put(s);
    put('"');
    return;
  }
  char* p = room(s.size() + 2);
  *p = '"';
  if (!s.empty()) std::memcpy(p + 1, s.data(), s.size());
  p[s.size() + 1] = '"';
  used_ += s.size() + 2;
}

// As nlohmann's dump (ensure_ascii off): '"', '\\' and control bytes escaped, \u00xx in lower
// case for those without a short form. Anything not ASCII goes through nlohmann itself, which
// replaces bytes that are not UTF-8 (rare: process names and the texts are ASCII).
void JsonWriter::escaped(std::string_view s) {
  if (!needs_escape(s)) {  // nearly always: '"' s '"' in one step
    quoted(s);
    return;
  }
  for (const char ch : s) {
    if (static_cast<unsigned char>(ch) >= 0x80) {
      put(dump_line(nlohmann::json(std::string(s))));
      return;
    }
  }
  put('"');
  size_t plain = 0;  // start of the run of bytes that need no escape, written in one go
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(s.substr(plain, i - plain));
    plain = i + 1;
    switch (c) {
      case '"': put("\\\""); break;
      case '\\': put("\\\\"); break;
      case '\b': put("\\b"); break;
      case '\f': put("\\f"); break;
      case '\n': put("\\n"); break;
      case '\r': put("\\r"); break;
      case '\t': put("\\t"); break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        put(std::string_view(u, sizeof(u)));
      }
    }
  }
  put(s.substr(plain));
  put('"');
}

JsonWriter& JsonWriter::num(uint64_t v) {
  before_value();
  char* p = room(24);
  used_ += static_cast<size_t>(std::to_chars(p, p + 24, v).ptr - p);
  return *this;
}

JsonWriter& JsonWriter::num(int64_t v) {
  before_value();
  char* p = room(24);
  used_ += static_cast<size_t>(std::to_chars(p, p + 24, v).ptr - p);
  return *this;
}

JsonWriter& JsonWriter::boolean(bool b) {
  before_value();
  put(b ? std::string_view("true") : std::string_view("false"));
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  put(std::string_view("null"));
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json_text) {
  before_value();
  put(json_text);
  return *this;
}

JsonWriter& JsonWriter::rfc3339(int64_t wall_ns) {
  before_value();
  char* p = room(kRfc3339Max + 2);
  *p = '"';
  char* end = put_rfc3339_ns(p + 1, wall_ns);
  *end++ = '"';
  used_ += static_cast<size_t>(end - p);
  return *this;
}

JsonWriter& JsonWriter::address(const Endpoint& e) {
  before_value();
  char* p = room(Endpoint::kAddressMax + 2);
  *p = '"';
  char* end = e.put_address(p + 1);
  *end++ = '"';
  used_ += static_cast<size_t>(end - p);
  return *this;
}

namespace {

// The fields of reset_to_json (json_format.cpp), in sorted key order.

void endpoint(JsonWriter& w, const Endpoint& e) {
  w.open().key("addr").address(e).key("port").num(uint64_t{e.port}).close();
}

void container_pod(JsonWriter& w, const Workload* wl) {
  w.key("container");
  if (wl && wl->container) {
    const ContainerRef& c = *wl->container;
    w.open().key("id").str(c.id).key("name");
    c.name.empty() ? w.null() : w.str(c.name);
    w.key("runtime");
    c.runtime.empty() ? w.null() : w.str(c.runtime);
    w.close();
  } else {
    w.null();
  }
}

void pod(JsonWriter& w, const Workload* wl) {
  w.key("pod");
  if (wl && wl->pod) {
    const PodRef& p = *wl->pod;
    w.open().key("name");
    p.name.empty() ? w.null() : w.str(p.name);
    w.key("namespace");
    p.ns.empty() ? w.null() : w.str(p.ns);
    w.key("uid").str(p.uid).close();
  } else {
    w.null();
  }
}

// task_json + workload_fields (+ netns for the sender and the receiver)
void party(JsonWriter& w, const std::optional<TaskRef>& t, const Workload* wl, std::optional<uint32_t> netns) {
  if (!t) {
    w.null();
    return;
  }
  w.open().key("cgroup").num(t->cgroup).key("comm").str(t->comm);
  container_pod(w, wl);
  if (netns) w.key("netns").num(*netns);
  w.key("pid").num(t->pid);
  pod(w, wl);
  w.key("tid").num(t->tid).close();
}

}  // namespace

void append_reset_line(std::string& out, const Explanation& x, const ClockMap& clock, std::string_view host,
                       const RecordedHosts* recorded) {
  const ResetCase& c = x.reset;
  JsonWriter w(out);
  w.open();
  w.key("actor");
  party(w, c.actor, x.workload_of(c.actor), std::nullopt);
  w.key("advice").plain(x.advice);
  w.key("cause").plain(cause_id(x.cause));
  w.key("closer");
  if (c.closer) {
    const Workload* wl = x.workload_of(c.closer->task);
    w.open().key("comm").str(c.closer->task.comm);
    container_pod(w, wl);
    w.key("exiting").boolean(c.closer->exiting).key("kind").str(c.closer->kind).key("pid").num(c.closer->task.pid);
    pod(w, wl);
    w.close();
  } else {
    w.null();
  }
  // rare (RSTs from another host): the one nested object left to nlohmann
  w.key("evidence");
  if (x.evidence) {
    w.raw(dump_line(evidence_to_json(*x.evidence)));
  } else {
    w.null();
  }
  w.key("explanation").str(x.because);
  w.key("host").str(host);
  w.key("inferred").boolean(x.inferred);
  w.key("kernel_path").plain(x.kernel_path);
  w.key("linger");
  if (x.linger) {
    // nlohmann prints a double's shortest form; 0 (no SO_LINGER: nearly every reset) is "0.0"
    const double secs = x.linger->seconds;
    w.open().key("on").boolean(x.linger->on).key("seconds");
    secs == 0.0 && !std::signbit(secs) ? w.raw("0.0") : w.raw(nlohmann::json(secs).dump());
    w.close();
  } else {
    w.null();
  }
  w.key("local");
  endpoint(w, c.local);
  w.key("netns").num(c.netns);
  w.key("observed").open_array();
  for (const Observation& o : c.observed) {
    w.open().key("call").plain(o.call_name()).key("comm").str(o.task.comm).key("count").num(o.count);
    w.key("derived").boolean(o.derived).key("first").rfc3339(clock.to_wall_ns(o.first_ns));
    w.key("last").rfc3339(clock.to_wall_ns(o.last_ns)).key("pid").num(o.task.pid);
    w.key("result").plain(o.result()).close();
  }
  w.close_array();
  w.key("receiver");
  party(w, c.receiver, x.workload_of(c.receiver), c.receiver ? x.received_netns : std::nullopt);
  if (recorded) {
    w.key("receiver_host");
    recorded->receiver.empty() ? w.null() : w.str(recorded->receiver);
  }
  if (x.receiver_state) w.key("receiver_state").plain(*x.receiver_state);
  w.key("remote");
  endpoint(w, c.remote);
  w.key("rst_reason");
  x.rst_reason.empty() ? w.null() : w.plain(x.rst_reason);
  w.key("rst_received_locally").boolean(x.rst_received_locally);
  w.key("rst_sent_locally").boolean(x.rst_sent_locally);
  w.key("schema").plain(kJsonSchema);
  w.key("sender");
  party(w, c.sender, x.workload_of(c.sender), c.sender ? x.sent_netns : std::nullopt);
  if (recorded) {
    w.key("sender_host");
    recorded->sender.empty() ? w.null() : w.str(recorded->sender);
  }
  if (x.sender_state) {
    w.key("sender_netns").num(x.sent_netns.value_or(0));
    w.key("sender_state").plain(*x.sender_state);
  }
  const int64_t wall = clock.to_wall_ns(c.ts_ns);
  w.key("time").rfc3339(wall);
  w.key("ts_ns").num(wall);
  w.key("type").plain("reset");
  w.key("unread_bytes");
  x.unread_bytes ? w.num(*x.unread_bytes) : w.null();
  w.close();
}

}  // namespace connreset
