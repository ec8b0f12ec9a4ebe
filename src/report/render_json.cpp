#include "report/render.h"
#include "sinks/columns_sink.h"
#include "sinks/json_format.h"

#include <charconv>

#include "common/names.h"

namespace connreset::report {
namespace {

// The reset line of report --json, written directly: the same bytes as
// dump_line(reset_to_json(x)) plus the host fields (keys in nlohmann's sorted
// order; a unit test compares the two on every field), without building a
// tree of maps per reset - that was most of report --json's time.
class Line {
 public:
  explicit Line(std::string& s) : s_(s) {}
  Line& key(const char* k) {
    s_ += first_ ? "\"" : ",\"";
    first_ = false;
    s_ += k;
    s_ += "\":";
    return *this;
  }
  void str(std::string_view v) {
    for (unsigned char ch : v) {
      if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {  // escapes, UTF-8: nlohmann's rules
        s_ += nlohmann::json(std::string(v)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return;
      }
    }
    s_ += '"';
    s_ += v;
    s_ += '"';
  }
  void num(uint64_t v) {
    char buf[24];
    s_.append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof(buf), v).ptr - buf));
  }
  void boolean(bool v) { s_ += v ? "true" : "false"; }
  void null() { s_ += "null"; }
  void endpoint(const Endpoint& e) {
    Line o = open();
    o.key("addr").str(e.address());
    o.key("port").num(e.port);
    close();
  }
  void str_or_null(std::string_view v) { v.empty() ? null() : str(v); }
  // a party's container and pod, both null when it is in neither
  void container(const Workload* w) {
    key("container");
    if (!w || !w->container) return null();
    Line o = open();
    o.key("id").str(w->container->id);
    o.key("name").str_or_null(w->container->name);
    o.key("runtime").str_or_null(w->container->runtime);
    close();
  }
  void pod(const Workload* w) {
    key("pod");
    if (!w || !w->pod) return null();
    Line o = open();
    o.key("name").str_or_null(w->pod->name);
    o.key("namespace").str_or_null(w->pod->ns);
    o.key("uid").str(w->pod->uid);
    close();
  }
  void task(const std::optional<TaskRef>& t, std::optional<uint32_t> netns, const Workload* w) {
    if (!t) return null();
    Line o = open();
    o.key("cgroup").num(t->cgroup);
    o.key("comm").str(t->comm);
    o.container(w);
    if (netns) o.key("netns").num(*netns);
    o.key("pid").num(t->pid);
    o.pod(w);
    o.key("tid").num(t->tid);
    close();
  }
  Line open() {
    s_ += '{';
    return Line(s_);
  }
  void close() { s_ += '}'; }

 private:
  std::string& s_;
  bool first_ = true;
};

void reset_line(const ConnectionReport& c, const std::string& report_host, std::string& out) {
  const Explanation& x = c.x;
  const ResetCase& r = x.reset;
  const ClockMap wall{0};
  Line j = Line(out).open();
  j.key("actor").task(r.actor, std::nullopt, x.workload_of(r.actor));
  j.key("advice").str(x.advice);
  j.key("cause").str(cause_id(x.cause));
  j.key("closer");
  if (r.closer) {
    Line o = j.open();
    const Workload* w = x.workload_of(r.closer->task);
    o.key("comm").str(r.closer->task.comm);
    o.container(w);
    o.key("exiting").boolean(r.closer->exiting);
    o.key("kind").str(r.closer->kind);
    o.key("pid").num(r.closer->task.pid);
    o.pod(w);
    j.close();
  } else {
    j.null();
  }
  // rare (RSTs from another host): the one nested object left to nlohmann
  j.key("evidence");
  out += x.evidence ? dump_line(evidence_to_json(*x.evidence)) : std::string("null");
  j.key("explanation").str(x.because);
  // where the reset was seen; the report's host when no journal says
  j.key("host").str(!c.receiver_host.empty() ? c.receiver_host
                    : !c.sender_host.empty() ? c.sender_host
                                             : report_host);
  j.key("inferred").boolean(x.inferred);
  j.key("kernel_path").str(x.kernel_path);
  j.key("linger");
  if (x.linger) {
    Line o = j.open();
    o.key("on").boolean(x.linger->on);
    out += ",\"seconds\":" + nlohmann::json(x.linger->seconds).dump();  // nlohmann's double format
    j.close();
  } else {
    j.null();
  }
  j.key("local").endpoint(r.local);
  j.key("netns").num(r.netns);
  j.key("observed");
  out += '[';
  bool first = true;
  for (const Observation& o : r.observed) {
    if (!first) out += ',';
    first = false;
    Line ob = j.open();
    ob.key("call").str(o.call_name());
    ob.key("comm").str(o.task.comm);
    ob.key("count").num(o.count);
    ob.key("derived").boolean(o.derived);
    ob.key("first").str(rfc3339_ns(wall.to_wall_ns(o.first_ns)));
    ob.key("last").str(rfc3339_ns(wall.to_wall_ns(o.last_ns)));
    ob.key("pid").num(o.task.pid);
    ob.key("result").str(o.result());
    j.close();
  }
  out += ']';
  j.key("receiver").task(r.receiver, r.receiver ? x.received_netns : std::nullopt, x.workload_of(r.receiver));
  j.key("receiver_host");
  c.receiver_host.empty() ? j.null() : j.str(c.receiver_host);
  if (x.receiver_state) j.key("receiver_state").str(*x.receiver_state);
  j.key("remote").endpoint(r.remote);
  j.key("rst_reason");
  x.rst_reason.empty() ? j.null() : j.str(x.rst_reason);
  j.key("rst_received_locally").boolean(x.rst_received_locally);
  j.key("rst_sent_locally").boolean(x.rst_sent_locally);
  j.key("schema").str(kJsonSchema);
  j.key("sender").task(r.sender, r.sender ? x.sent_netns : std::nullopt, x.workload_of(r.sender));
  j.key("sender_host");
  c.sender_host.empty() ? j.null() : j.str(c.sender_host);
  if (x.sender_state) {
    j.key("sender_netns").num(x.sent_netns.value_or(0));
    j.key("sender_state").str(*x.sender_state);
  }
  const int64_t ts = wall.to_wall_ns(r.ts_ns);  // ts_ns: the instant `time` names (see json_format.cpp)
  j.key("time").str(rfc3339_ns(ts));
  j.key("ts_ns").num(static_cast<uint64_t>(ts));
  j.key("type").str("reset");
  j.key("unread_bytes");
  x.unread_bytes ? j.num(*x.unread_bytes) : j.null();
  j.close();
}

}  // namespace

std::string json_reset_line(const ConnectionReport& c, const std::string& report_host) {
  std::string s;
  reset_line(c, report_host, s);
  return s;
}

void JsonReportWriter::line(nlohmann::json j, const std::string& host) {
  if (!j.contains("host")) j["host"] = host.empty() ? info_.hostname : host;
  out_.put(dump_line(j) + "\n");
}

void JsonReportWriter::begin(const ReportHeader& h) {
  info_ = h.info;
  for (const SourceSummary& src : h.sources) {
    RunInfo info = h.info;
    info.hostname = src.label;
    info.kernel = src.kernel;
    nlohmann::json meta = meta_to_json(info);
    meta["files"] = src.files;
    line(std::move(meta));
  }
}

void JsonReportWriter::reset(const ConnectionReport& c) {
  line_.clear();
  reset_line(c, info_.hostname, line_);
  line_ += '\n';
  out_.put(line_);
}

void JsonReportWriter::finding(const Finding& f) { line(finding_to_json(f, ClockMap{0})); }

void JsonReportWriter::end(const ReportEnd& e) {
  for (const std::string& p : e.problems) {
    line(nlohmann::json{{"schema", kJsonSchema}, {"type", "warning"}, {"message", p}});
  }
  for (const SourceSummary& src : e.replay.sources) {
    out_.put(dump_line(nlohmann::json{{"schema", kJsonSchema},
                                      {"type", "host"},
                                      {"host", src.label},
                                      {"kernel", src.kernel},
                                      {"files", src.files},
                                      {"events", src.events},
                                      {"lost", src.totals.lost},
                                      {"ended_cleanly", src.ended_cleanly}}) +
             "\n");
  }
  line(stats_to_json(e.stats));
  out_.flush();
}

void ColumnsReportWriter::begin(const ReportHeader&) { out_.put(columns_header() + "\n"); }

void ColumnsReportWriter::reset(const ConnectionReport& c) { out_.put(columns_line(c.x, ClockMap{0}) + "\n"); }

void ColumnsReportWriter::end(const ReportEnd&) { out_.flush(); }

std::string render_json_report(const Report& rep) {
  std::string s;
  {
    Output out(&s);
    JsonReportWriter w(out);
    w.begin(rep.header);
    for (const ConnectionReport& c : rep.resets) w.reset(c);
    for (const Finding& f : rep.findings) w.finding(f);
    w.end(ReportEnd{rep.stats, rep.replay, rep.problems, rep.summary});
  }
  return s;
}

}  // namespace connreset::report
