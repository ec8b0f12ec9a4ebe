#include "sinks/json_format.h"

#include "common/names.h"

namespace connreset {
namespace {

using nlohmann::json;

json endpoint_json(const Endpoint& e) {
  return json{{"addr", e.address()}, {"port", e.port}};
}

json workload_fields(json j, const Workload* w) {
  j["container"] = nullptr;
  j["pod"] = nullptr;
  if (!w) return j;
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  if (w->container) {
    j["container"] = json{{"id", w->container->id},
                          {"runtime", or_null(w->container->runtime)},
                          {"name", or_null(w->container->name)}};
  }
  if (w->pod) j["pod"] = json{{"namespace", or_null(w->pod->ns)}, {"name", or_null(w->pod->name)}, {"uid", w->pod->uid}};
  return j;
}

json task_json(const std::optional<TaskRef>& t) {
  if (!t) return nullptr;
  return json{{"pid", t->pid}, {"tid", t->tid}, {"comm", t->comm}, {"cgroup", t->cgroup}};
}

// The parties of a reset carry container and pod (null: not in one, as far as this host can tell).
json party_json(const std::optional<TaskRef>& t, const Workload* w) {
  if (!t) return nullptr;
  return workload_fields(task_json(t), w);
}

template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

// What the receiving socket knew at an RST from another host (explain/remote.h).
json evidence_to_json(const RemoteEvidence& e) {
  json j{{"state", e.state},
         {"fin_before_send_s", opt(e.fin_before_send_s)},
         {"since_send_s", opt(e.since_send_s)},
         {"since_recv_s", opt(e.since_recv_s)},
         {"since_ack_s", opt(e.since_ack_s)},
         {"idle_before_send_s", opt(e.idle_before_send_s)},
         {"unacked_bytes", opt(e.unacked_bytes)},
         {"srtt_ms", opt(e.srtt_ms)},
         {"retrans", opt(e.retrans)},
         {"rst_flags", opt(e.rst_flags)},
         {"rst_acked", opt(e.rst_acked)},
         {"bytes_acked", opt(e.bytes_acked)},
         {"bytes_received", opt(e.bytes_received)},
         {"age_s", opt(e.age_s)},
         {"missing", e.missing}};
  return j;
}

namespace {

// ts_ns is the instant `time` names, as ns since the Unix epoch, in trace and
// report alike (the kernel's monotonic stamp is converted once, here).
json time_fields(json j, uint64_t ts_ns, const ClockMap& clock) {
  const int64_t wall = clock.to_wall_ns(ts_ns);
  j["time"] = rfc3339_ns(wall);
  j["ts_ns"] = wall;
  return j;
}

}  // namespace

json reset_to_json(const Explanation& x, const ClockMap& clock) {
  const ResetCase& c = x.reset;
  json j{{"schema", kJsonSchema}, {"type", "reset"}};
  j = time_fields(std::move(j), c.ts_ns, clock);
  j["cause"] = cause_id(x.cause);
  j["rst_reason"] = x.rst_reason.empty() ? json(nullptr) : json(x.rst_reason);
  j["netns"] = c.netns;
  j["local"] = endpoint_json(c.local);
  j["remote"] = endpoint_json(c.remote);
  j["sender"] = party_json(c.sender, x.workload_of(c.sender));
  if (c.sender && x.sent_netns) j["sender"]["netns"] = *x.sent_netns;
  j["receiver"] = party_json(c.receiver, x.workload_of(c.receiver));
  if (c.receiver && x.received_netns) j["receiver"]["netns"] = *x.received_netns;
  j["actor"] = party_json(c.actor, x.workload_of(c.actor));
  if (c.closer) {
    j["closer"] = json{{"pid", c.closer->task.pid},
                       {"comm", c.closer->task.comm},
                       {"kind", c.closer->kind},
                       {"exiting", c.closer->exiting}};
    j["closer"] = workload_fields(std::move(j["closer"]), x.workload_of(c.closer->task));
  } else {
    j["closer"] = nullptr;
  }
  j["unread_bytes"] = x.unread_bytes ? json(*x.unread_bytes) : json(nullptr);
  j["linger"] = x.linger ? json{{"on", x.linger->on}, {"seconds", x.linger->seconds}} : json(nullptr);
  json observed = json::array();
  for (const Observation& o : c.observed) {
    observed.push_back(json{{"pid", o.task.pid},
                            {"comm", o.task.comm},
                            {"call", o.call_name()},
                            {"result", o.result()},
                            {"count", o.count},
                            {"first", rfc3339_ns(clock.to_wall_ns(o.first_ns))},
                            {"last", rfc3339_ns(clock.to_wall_ns(o.last_ns))},
                            {"derived", o.derived}});
  }
  j["observed"] = std::move(observed);
  j["rst_sent_locally"] = x.rst_sent_locally;
  j["rst_received_locally"] = x.rst_received_locally;
  if (x.sender_state) {
    j["sender_state"] = *x.sender_state;
    j["sender_netns"] = x.sent_netns.value_or(0);
  }
  if (x.receiver_state) j["receiver_state"] = *x.receiver_state;
  j["inferred"] = x.inferred;
  j["evidence"] = x.evidence ? evidence_to_json(*x.evidence) : json(nullptr);
  j["kernel_path"] = x.kernel_path;
  j["explanation"] = x.because;
  j["advice"] = x.advice;
  return j;
}

json lifecycle_to_json(const LifecycleEvent& ev, const ClockMap& clock) {
  const Event& e = ev.event;
  json j{{"schema", kJsonSchema}, {"type", "state"}};
  j = time_fields(std::move(j), e.ts_ns, clock);
  j["netns"] = e.netns;
  j["local"] = endpoint_json(e.local);
  j["remote"] = endpoint_json(e.remote);
  j["old_state"] = tcp_state_name(e.old_state);
  j["new_state"] = tcp_state_name(e.state);
  j["owner"] = task_json(ev.owner);
  j["unread_bytes"] = e.unread;
  return j;
}

json finding_to_json(const Finding& f, const ClockMap& clock) {
  json j{{"schema", kJsonSchema}, {"type", "finding"}};
  j = time_fields(std::move(j), f.first_ns, clock);
  j["finding"] = f.kind;
  j["netns"] = f.netns;
  j["local"] = endpoint_json(f.local);
  j["remote"] = endpoint_json(f.remote);
  j["task"] = task_json(f.task);
  j["call"] = f.call;
  j["after"] = f.after;
  j["result"] = f.result;
  j["count"] = f.count;
  j["final"] = f.final;
  j["last"] = rfc3339_ns(clock.to_wall_ns(f.last_ns));
  j["rate_per_s"] = f.rate_per_s();
  j["advice"] = f.advice;
  return j;
}

json meta_to_json(const RunInfo& info) {
  json probes = json::object();
  for (const auto& [name, impl] : info.probes) probes[name] = impl;
  return json{{"schema", kJsonSchema}, {"type", "meta"},       {"command", info.command},
              {"host", info.hostname},   {"kernel", info.kernel}, {"probes", probes}};
}

json stats_to_json(const RunStats& s) {
  return json{{"schema", kJsonSchema},
              {"type", "stats"},
              {"events", s.events},
              {"lost", s.lost},
              {"call_table_full", s.call_table_full},
              {"decode_errors", s.decode_errors},
              {"resets", s.resets},
              {"findings", s.findings},
              {"sockets_tracked", s.sockets_tracked},
              {"sockets_evicted", s.sockets_evicted},
              {"states_folded", s.states_folded},
              {"close_unmatched", s.close_unmatched}};
}

std::string dump_line(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace connreset
