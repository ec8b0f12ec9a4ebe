#include "sinks/text_sink.h"

#include "common/escape.h"
#include "common/names.h"
#include "explain/explainer.h"
#include "explain/remote.h"

namespace connreset {
namespace {

// "pod ns/name" (or what is known of it) to follow a process's name
std::string pod_label(const Workload* w) {
  if (!w) return "";
  if (w->pod) {
    if (!w->pod->name.empty()) return "pod " + escape_for_terminal(w->pod->ns) + "/" + escape_for_terminal(w->pod->name);
    return "pod uid " + escape_for_terminal(w->pod->uid);
  }
  if (w->container) return "container " + w->container->id.substr(0, 12);
  return "";
}

// "  sender cr-server[42] in pod ns/name, container srv (containerd 0123456789ab)"
std::string workload_line(const char* role, const std::optional<TaskRef>& t, const Workload* w) {
  if (!t || !w) return "";
  std::string s = std::string("  ") + role + " " + task_label(*t) + " in ";
  if (w->pod) s += pod_label(w);
  if (w->container) {
    s += std::string(w->pod ? ", " : "") + "container ";
    if (!w->container->name.empty()) s += escape_for_terminal(w->container->name) + " ";
    s += "(" + (w->container->runtime.empty() ? std::string("id") : w->container->runtime) + " " +
         w->container->id.substr(0, 12) + ")";
  }
  return s + "\n";
}

const Workload* workload_of(const Explanation& x, const TaskRef& t) {
  auto it = x.workloads.find(t.pid);
  return it == x.workloads.end() ? nullptr : it->second.get();
}

// The lines are appended to one string: a report renders millions of resets, and a
// temporary string per piece was most of the cost of its text.
void append_label_with_pod(std::string& s, const TaskRef& t, const Workload* w) {
  s += escape_for_terminal(t.comm);
  s += '[';
  s += std::to_string(t.pid);
  s += ']';
  if (w) {
    const std::string pod = pod_label(w);
    if (!pod.empty()) s += " (" + pod + ")";
  }
}

void observed_line(std::string& s, const Explanation& x, const Observation& o, const ClockMap& clock) {
  s += "  ";
  append_label_with_pod(s, o.task, workload_of(x, o.task));
  s += ' ';
  s += o.call_name();
  s += "() -> ";
  s += o.result();
  s += " at ";
  append_clock_hms_ms(s, clock.to_wall_ns(o.first_ns));
  if (o.count > 1) {
    s += " (" + thousands(o.count) + " calls, last ";
    append_clock_hms_ms(s, clock.to_wall_ns(o.last_ns));
    s += ')';
  }
  s += '\n';
}

void party_line(std::string& s, const Explanation& x, const ClockMap& clock) {
  const ResetCase& c = x.reset;
  const std::string at = clock_hms_ms(clock.to_wall_ns(c.ts_ns));
  if (c.receiver) {
    s += "  ";
    append_label_with_pod(s, *c.receiver, x.workload_of(c.receiver));
    s += " received the RST at " + at + "\n";
  } else if (x.rst_received_locally) {
    s += "  a socket with no known owner received the RST at " + at + "\n";
  } else {
    s += "  RST sent to " + c.local.str() + " at " + at +
         "; no socket on this host processed it (remote peer, or dropped on the way)\n";
  }
}

// The numbers an inferred cause rests on, in one line.
std::string evidence_line(const RemoteEvidence& e) {
  std::string s = "  evidence (inferred): state " + e.state;
  auto add = [&s](const std::string& part) { s += ", " + part; };
  if (e.fin_before_send_s) {
    add(*e.fin_before_send_s >= 0 ? "peer FIN " + seconds_phrase(*e.fin_before_send_s) + " before our last send"
                                  : "peer FIN " + seconds_phrase(-*e.fin_before_send_s) + " after our last send");
  }
  if (e.idle_before_send_s) add("idle " + seconds_phrase(*e.idle_before_send_s) + " before our last send");
  if (e.since_send_s) add("RST " + seconds_phrase(*e.since_send_s) + " after it");
  if (e.since_recv_s) add("peer data " + seconds_phrase(*e.since_recv_s) + " before the RST");
  if (e.unacked_bytes) add(thousands(*e.unacked_bytes) + " bytes unacked");
  if (e.bytes_acked) add(thousands(*e.bytes_acked) + " acked in all");
  if (e.srtt_ms) {
    char b[32];
    std::snprintf(b, sizeof(b), "srtt %.1f ms", *e.srtt_ms);
    add(b);
  }
  if (e.retrans) add(std::to_string(*e.retrans) + " retransmits");
  add("rst " + (e.rst_flags ? *e.rst_flags : std::string("flags unknown")));
  if (e.age_s) add("age " + seconds_phrase(*e.age_s));
  return s + "\n";
}

}  // namespace

void append_text(std::string& s, const Explanation& x, const ClockMap& clock) {
  const ResetCase& c = x.reset;
  // time first, as on every other line people grep
  append_clock_hms_ms(s, clock.to_wall_ns(c.ts_ns));
  s += " RESET ";
  c.local.append_str(s);
  s += " <- ";
  c.remote.append_str(s);
  s += "  cause=";
  s += cause_id(x.cause);
  if (!x.rst_reason.empty()) {
    s += "  reason=";
    s += x.rst_reason;
  }
  s += '\n';
  if (c.observed.empty()) {
    party_line(s, x, clock);
  } else {
    for (const Observation& o : c.observed) observed_line(s, x, o, clock);
  }
  s += "  because ";
  s += x.because;
  s += '\n';
  if (c.sender) s += workload_line("sender", c.sender, x.workload_of(c.sender));
  if (c.receiver) s += workload_line("receiver", c.receiver, x.workload_of(c.receiver));
  if (c.actor && (!c.sender || c.actor->pid != c.sender->pid)) s += workload_line("actor", c.actor, x.workload_of(c.actor));
  if (x.evidence && x.inferred) s += evidence_line(*x.evidence);
  s += "  kernel: ";
  s += x.kernel_path;
  s += "  [netns ";
  s += std::to_string(c.netns);
  s += "]\n  fix: ";
  s += x.advice;
  s += '\n';
}

std::string render_text(const Explanation& x, const ClockMap& clock) {
  std::string s;
  append_text(s, x, clock);
  return s;
}

std::string render_text(const Finding& f, const ClockMap& clock) {
  char rate[64];
  std::snprintf(rate, sizeof(rate), "%.0f/s", f.rate_per_s());
  std::string s = "FINDING " + f.kind + "  " + task_label(f.task) + "  " + f.local.str() + " <-> " +
                  f.remote.str() + "\n";
  s += "  " + f.call + "() returned " + f.after + " at " + clock_hms_ms(clock.to_wall_ns(f.first_ns)) +
       ", and was called " + (f.final ? "" : "at least ") + thousands(f.count) + " more times (" + rate +
       ", still returning " + f.result + ")" + (f.final ? "; socket now closed" : "") + "\n";
  if (!f.advice.empty()) s += "  fix: " + f.advice + "\n";
  return s;
}

void TextSink::finding(const Finding& f) {
  std::fputs(render_text(f, clock_).c_str(), out_);
}

void TextSink::begin(const RunInfo& info) {
  clock_ = info.clock;
  std::fprintf(out_, "connreset %s on %s (kernel %s): tracing resets, Ctrl-C to stop\n",
               info.command.c_str(), escape_for_terminal(info.hostname).c_str(),
               escape_for_terminal(info.kernel).c_str());
  std::fflush(out_);
}

void TextSink::reset(const Explanation& x) {
  std::fputs(render_text(x, clock_).c_str(), out_);
}

void TextSink::lifecycle(const LifecycleEvent& ev) {
  const Event& e = ev.event;
  std::string who = ev.owner ? task_label(*ev.owner) : "-";
  std::fprintf(out_, "%s  STATE %s -> %s  %s %s -> %s%s\n",
               clock_hms_ms(clock_.to_wall_ns(e.ts_ns)).c_str(), tcp_state_name(e.old_state).c_str(),
               tcp_state_name(e.state).c_str(), who.c_str(), e.local.str().c_str(),
               e.remote.str().c_str(),
               e.unread ? ("  unread=" + std::to_string(e.unread)).c_str() : "");
}

void TextSink::warning(const std::string& text) {
  std::fprintf(out_, "WARNING: %s\n", escape_for_terminal(text).c_str());
  std::fflush(out_);
}

void TextSink::end(const RunStats& st) {
  if (!verbose_) return flush();
  // closes whose announced RST never came (the kernel left them out for it): said only when some were
  const std::string unmatched =
      st.close_unmatched ? ", " + thousands(st.close_unmatched) + " closes unreported (their RST did not follow)" : "";
  std::fprintf(out_, "connreset: %s resets explained, %s findings, %s events, %s lost%s%s\n",
               thousands(st.resets).c_str(), thousands(st.findings).c_str(), thousands(st.events).c_str(),
               thousands(st.lost).c_str(),
               st.lost ? " (ring buffer full: raise --ringbuf-kib)" : "", unmatched.c_str());
  std::fflush(out_);
}

}  // namespace connreset
