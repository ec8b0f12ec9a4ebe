#include "probes/attach_plan.h"

#include <algorithm>

namespace connreset {
namespace {

std::function<std::string(const KernelFeatures&)> needs_tracepoint(std::string name,
                                                                   std::string since) {
  return [name, since](const KernelFeatures& f) -> std::string {
    if (!f.btf) return "no kernel BTF";
    if (!f.has_tracepoint(name)) return "tracepoint " + name + " not in this kernel (added in " + since + ")";
    return "";
  };
}

std::string reset_reason_unmet(const KernelFeatures& f) {
  std::string base = needs_tracepoint("tcp_send_reset", "4.15")(f);
  if (!base.empty()) return base;
  if (f.tcp_send_reset_args < 3) {
    return "tcp:tcp_send_reset has no reason argument and skips no-socket resets before 6.10";
  }
  return "";
}

// Facts carried by other programs: usable when those are.
std::function<std::string(const KernelFeatures&)> carried_by(
    std::vector<std::function<std::string(const KernelFeatures&)>> parts) {
  return [parts](const KernelFeatures& f) -> std::string {
    for (const auto& p : parts) {
      if (std::string why = p(f); !why.empty()) return why;
    }
    return "";
  };
}

using Unmet = std::function<std::string(const KernelFeatures&)>;

Unmet needs_fentry(std::vector<std::string> funcs) {
  return [funcs](const KernelFeatures& f) -> std::string {
    if (!f.fentry_ok()) return "fentry/fexit unusable here (" + f.fentry_error + ")";
    for (const auto& fn : funcs) {
      if (f.func_params(fn) < 0) return fn + " not in kernel BTF";
    }
    return "";
  };
}

Unmet needs_fentry_arity(std::string func, int params) {
  return [func, params](const KernelFeatures& f) -> std::string {
    if (std::string why = needs_fentry({func})(f); !why.empty()) return why;
    if (f.func_params(func) != params) {
      return func + " takes " + std::to_string(f.func_params(func)) + " arguments here, this program " +
             std::to_string(params);
    }
    return "";
  };
}

Unmet needs_kprobe(std::vector<std::string> funcs) {
  return [funcs](const KernelFeatures& f) -> std::string {
    if (!f.kprobe_ok()) return "kprobes unusable here (" + f.kprobe_error + ")";
    for (const auto& fn : funcs) {
      if (!f.kallsyms.count(fn)) return fn + " has no symbol to probe (inlined?)";
    }
    return "";
  };
}

}  // namespace

std::string_view family_name(ProbeFamily f) {
  switch (f) {
    case ProbeFamily::Tracepoint: return "tracepoint";
    case ProbeFamily::Fentry: return "fentry";
    case ProbeFamily::Kprobe: return "kprobe";
  }
  return "?";
}

std::optional<FamilyChoice> parse_family_choice(std::string_view s) {
  if (s == "auto") return FamilyChoice::Auto;
  if (s == "tracepoint") return FamilyChoice::Tracepoint;
  if (s == "fentry") return FamilyChoice::Fentry;
  if (s == "kprobe") return FamilyChoice::Kprobe;
  return std::nullopt;
}

const std::vector<LogicalProbe>& probe_table() {
  using F = ProbeFamily;
  static const std::vector<LogicalProbe> kTable = {
      {"reset_sent", "every RST this host sends, with the socket's state (and the kernel's reason on 6.10+)",
       true,
       {{F::Tracepoint, {"tp_send_reset"}, "tp_btf/tcp_send_reset", reset_reason_unmet},
        {F::Fentry, {"fe_send_active_reset", "fe_v4_send_reset"},
         "fentry/tcp_send_active_reset + fentry/tcp_v4_send_reset",
         needs_fentry({"tcp_send_active_reset", "tcp_v4_send_reset"}),
         {{"fe_v6_send_reset", "tcp_v6_send_reset"}}},
        {F::Kprobe, {"kp_send_active_reset", "kp_v4_send_reset"},
         "kprobe/tcp_send_active_reset + kprobe/tcp_v4_send_reset",
         needs_kprobe({"tcp_send_active_reset", "tcp_v4_send_reset"}),
         {{"kp_v6_send_reset", "tcp_v6_send_reset"}}}}},
      {"reset_received", "every RST a local socket processes", true,
       // fentry first where it works: it also sees the RST segment (ACK or bare), which
       // explains RSTs from other hosts; it fires only per RST, so it costs no more
       {{F::Fentry, {"fe_reset_skb"}, "fentry/tcp_reset (sk, skb)", needs_fentry_arity("tcp_reset", 2)},
        {F::Tracepoint, {"tp_receive_reset"}, "tp_btf/tcp_receive_reset (no RST flags)",
         needs_tracepoint("tcp_receive_reset", "4.15")},
        {F::Fentry, {"fe_reset"}, "fentry/tcp_reset (sk; no RST flags)", needs_fentry_arity("tcp_reset", 1)},
        {F::Kprobe, {"kp_reset"}, "kprobe/tcp_reset", needs_kprobe({"tcp_reset"})}}},
      {"state_change", "connect, FIN sent/received, end of connection", true,
       {{F::Tracepoint, {"tp_set_state"}, "tp_btf/inet_sock_set_state",
         needs_tracepoint("inet_sock_set_state", "4.16")},
        {F::Fentry, {"fe_set_state"}, "fentry/tcp_set_state", needs_fentry({"tcp_set_state"})},
        {F::Kprobe, {"kp_set_state"}, "kprobe/tcp_set_state", needs_kprobe({"tcp_set_state"})}}},
      {"recv_result", "what recv() returned per (socket, task): data, 0, errno", false,
       {{F::Tracepoint, {"tp_recv_length"}, "tp_btf/sock_recv_length",
         needs_tracepoint("sock_recv_length", "6.3")},
        {F::Fentry, {"fx_recvmsg"}, "fexit/tcp_recvmsg (sk, msg, len, flags, addr_len)",
         needs_fentry_arity("tcp_recvmsg", 5)},
        {F::Fentry, {"fx_recvmsg_nb"}, "fexit/tcp_recvmsg (sk, msg, len, nonblock, flags, addr_len)",
         needs_fentry_arity("tcp_recvmsg", 6)},
        {F::Kprobe, {"kp_recvmsg", "kr_recvmsg"}, "kprobe+kretprobe/tcp_recvmsg",
         needs_kprobe({"tcp_recvmsg"})}}},
      {"send_result", "what send() returned per (socket, task)", false,
       {{F::Tracepoint, {"tp_send_length"}, "tp_btf/sock_send_length",
         needs_tracepoint("sock_send_length", "6.3")},
        {F::Fentry, {"fx_sendmsg"}, "fexit/tcp_sendmsg", needs_fentry({"tcp_sendmsg"})},
        {F::Kprobe, {"kp_sendmsg", "kr_sendmsg"}, "kprobe+kretprobe/tcp_sendmsg",
         needs_kprobe({"tcp_sendmsg"})}}},
      {"close", "close(): unread bytes, SO_LINGER, closing task, exiting", true,
       {{F::Tracepoint, {},
         "read at inet_sock_set_state (FIN) and tcp_send_reset (RST) in the closing task",
         carried_by({reset_reason_unmet, needs_tracepoint("inet_sock_set_state", "4.16")})},
        {F::Fentry, {"fe_tcp_close"}, "fentry/__tcp_close", needs_fentry({"__tcp_close"})},
        {F::Kprobe, {"kp_tcp_close"}, "kprobe/__tcp_close", needs_kprobe({"__tcp_close"})}}},
      {"fin_received", "the peer's FIN", false,
       {{F::Tracepoint, {}, "inet_sock_set_state ESTABLISHED -> CLOSE_WAIT",
         needs_tracepoint("inet_sock_set_state", "4.16")},
        {F::Fentry, {}, "tcp_set_state -> CLOSE_WAIT (fentry)", needs_fentry({"tcp_set_state"})},
        {F::Kprobe, {}, "tcp_set_state -> CLOSE_WAIT (kprobe)", needs_kprobe({"tcp_set_state"})}}},
      {"socket_end", "the kernel destroys a socket: what connreset kept for it is dropped", false,
       {{F::Tracepoint, {"tp_destroy_sock"}, "tp_btf/tcp_destroy_sock",
         needs_tracepoint("tcp_destroy_sock", "4.15")},
        {F::Fentry, {"fe_destroy_sock"}, "fentry/tcp_v4_destroy_sock", needs_fentry({"tcp_v4_destroy_sock"})},
        {F::Kprobe, {}, "nothing: kprobe plans keep no per-socket state",
         needs_kprobe({"tcp_v4_destroy_sock"})}}},
      {"no_socket_reset", "RSTs answering segments no socket wants (refused, unknown flow)", true,
       {{F::Tracepoint, {}, "tcp_send_reset with sk == NULL (6.10+)", reset_reason_unmet},
        {F::Fentry, {}, "fentry/tcp_v4_send_reset with sk == NULL", needs_fentry({"tcp_v4_send_reset"})},
        {F::Kprobe, {}, "kprobe/tcp_v4_send_reset with sk == NULL", needs_kprobe({"tcp_v4_send_reset"})}}},
  };
  return kTable;
}

std::vector<std::string> AttachPlan::programs() const {
  std::vector<std::string> out;
  auto add = [&](std::string_view p) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.emplace_back(p);
  };
  for (const PlanEntry& e : entries) {
    if (!e.chosen) continue;
    for (std::string_view p : e.chosen->programs) add(p);
    for (const auto& [program, function] : e.chosen->optional) {
      const bool present = features && (e.chosen->family == ProbeFamily::Kprobe
                                            ? features->kallsyms.count(std::string(function)) > 0
                                            : features->func_params(std::string(function)) >= 0);
      if (present) add(program);
    }
  }
  return out;
}

bool AttachPlan::uses(ProbeFamily family) const {
  for (const PlanEntry& e : entries) {
    if (e.chosen && e.chosen->family == family) return true;
  }
  return false;
}

std::string AttachPlan::describe(const PlanEntry& e) const {
  if (!e.chosen) return "none (" + e.why + ")";
  return std::string(e.chosen->attach) + " [" + std::string(family_name(e.chosen->family)) + "]";
}

AttachPlan make_attach_plan(const KernelFeatures& f, FamilyChoice choice) {
  AttachPlan plan;
  plan.requested = choice;
  plan.features = std::make_shared<const KernelFeatures>(f);
  if (!f.privileged) {
    std::string caps;
    for (const auto& c : f.missing_caps) caps += (caps.empty() ? "" : ", ") + c;
    plan.problems.push_back("missing privileges (" + caps + "): run as root (sudo connreset ...)");
  }
  if (!f.btf) {
    plan.problems.push_back("no kernel BTF at /sys/kernel/btf/vmlinux (" + f.btf_error +
                            "): a kernel built with CONFIG_DEBUG_INFO_BTF=y is required");
  }
  if (!f.ringbuf && f.privileged) {
    plan.problems.push_back("BPF ring buffer not supported: kernel 5.8 or newer is required");
  }
  for (const LogicalProbe& probe : probe_table()) {
    PlanEntry entry{&probe, nullptr, ""};
    std::string rejected;
    for (const Implementation& impl : probe.implementations) {
      const bool family_ok =
          choice == FamilyChoice::Auto ||
          (choice == FamilyChoice::Tracepoint && impl.family == ProbeFamily::Tracepoint) ||
          (choice == FamilyChoice::Fentry && impl.family == ProbeFamily::Fentry) ||
          (choice == FamilyChoice::Kprobe && impl.family == ProbeFamily::Kprobe);
      if (!family_ok) continue;
      if (std::string why = impl.unmet(f); !why.empty()) {
        rejected += (rejected.empty() ? "" : "; ") + std::string(impl.attach) + ": " + why;
        continue;
      }
      entry.chosen = &impl;
      entry.why = rejected.empty() ? "first choice, supported by this kernel"
                                   : "fallback (" + rejected + ")";
      break;
    }
    if (!entry.chosen) {
      entry.why = rejected.empty() ? "no implementation in the requested probe family" : rejected;
      if (probe.required) {
        plan.problems.push_back("probe " + std::string(probe.name) + " unavailable: " + entry.why);
      }
    }
    plan.entries.push_back(std::move(entry));
  }
  return plan;
}

AttachPlan plan_for_running_kernel(FamilyChoice choice) {
  KernelFeatures f = detect_basic_features();
  if (choice == FamilyChoice::Auto || choice == FamilyChoice::Fentry) detect_fentry(f);
  if (choice == FamilyChoice::Kprobe) {
    detect_kprobes(f);
  } else if (choice == FamilyChoice::Auto) {
    AttachPlan plan = make_attach_plan(f, choice);
    const bool complete = std::all_of(plan.entries.begin(), plan.entries.end(),
                                      [](const PlanEntry& e) { return e.chosen != nullptr; });
    if (complete) return plan;
    detect_kprobes(f);
  }
  return make_attach_plan(f, choice);
}

}  // namespace connreset
