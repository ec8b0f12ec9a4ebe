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
  static const std::vector<LogicalProbe> kTable = {
      {"reset_sent", "every RST this host sends, with the kernel's reason and the socket's state",
       true,
       {{ProbeFamily::Tracepoint, "tp_send_reset", "tp_btf/tcp_send_reset", reset_reason_unmet}}},
      {"reset_received", "every RST a local socket processes", true,
       {{ProbeFamily::Tracepoint, "tp_receive_reset", "tp_btf/tcp_receive_reset",
         needs_tracepoint("tcp_receive_reset", "4.15")}}},
      {"state_change", "connect, FIN sent/received, end of connection", true,
       {{ProbeFamily::Tracepoint, "tp_set_state", "tp_btf/inet_sock_set_state",
         needs_tracepoint("inet_sock_set_state", "4.16")}}},
      {"recv_result", "what recv() returned per (socket, task): data, 0, errno", false,
       {{ProbeFamily::Tracepoint, "tp_recv_length", "tp_btf/sock_recv_length",
         needs_tracepoint("sock_recv_length", "6.3")}}},
      {"send_result", "what send() returned per (socket, task)", false,
       {{ProbeFamily::Tracepoint, "tp_send_length", "tp_btf/sock_send_length",
         needs_tracepoint("sock_send_length", "6.3")}}},
      {"close", "close()/shutdown(): unread bytes, SO_LINGER, closing task, exiting", true,
       {{ProbeFamily::Tracepoint, "",
         "read at inet_sock_set_state (FIN) and tcp_send_reset (RST) in the closing task",
         carried_by({reset_reason_unmet, needs_tracepoint("inet_sock_set_state", "4.16")})}}},
      {"fin_received", "the peer's FIN", false,
       {{ProbeFamily::Tracepoint, "", "inet_sock_set_state ESTABLISHED -> CLOSE_WAIT",
         needs_tracepoint("inet_sock_set_state", "4.16")}}},
      {"no_socket_reset", "RSTs answering segments no socket wants (refused, unknown flow)", true,
       {{ProbeFamily::Tracepoint, "", "tcp_send_reset with sk == NULL (6.10+)",
         reset_reason_unmet}}},
  };
  return kTable;
}

std::vector<std::string> AttachPlan::programs() const {
  std::vector<std::string> out;
  for (const PlanEntry& e : entries) {
    if (!e.chosen || e.chosen->program.empty()) continue;
    std::string p(e.chosen->program);
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

std::string AttachPlan::describe(const PlanEntry& e) const {
  if (!e.chosen) return "none (" + e.why + ")";
  return std::string(e.chosen->attach) + " [" + std::string(family_name(e.chosen->family)) + "]";
}

AttachPlan make_attach_plan(const KernelFeatures& f, FamilyChoice choice) {
  AttachPlan plan;
  plan.requested = choice;
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

}  // namespace connreset
