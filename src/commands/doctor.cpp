#include <cstdio>
#include <string>

#include "commands/commands.h"
#include "probes/attach_plan.h"
#include "probes/features.h"
#include "probes/tracer.h"

namespace connreset {
namespace {

void row(const char* what, bool ok, const std::string& detail) {
  std::printf("  %-14s %-4s %s\n", what, ok ? "ok" : "--", detail.c_str());
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

int run_doctor(const std::string& probes) {
  const auto choice = parse_family_choice(probes);
  if (!choice) {
    std::fprintf(stderr, "connreset doctor: --probes %s: expected auto, tracepoint, fentry or kprobe\n",
                 probes.c_str());
    return 2;
  }
  const KernelFeatures f = detect_features();
  std::printf("connreset doctor - kernel %s\n\nkernel features:\n", f.release.c_str());
  row("privileges", f.privileged,
      f.privileged ? "CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"
                   : "missing " + join(f.missing_caps) + ": run as root");
  row("BTF", f.btf, f.btf ? "/sys/kernel/btf/vmlinux" : "unavailable: " + f.btf_error);
  // without CAP_BPF the probe's map creation fails with EPERM: that says nothing about the kernel
  row("ring buffer", f.ringbuf,
      f.ringbuf       ? "BPF_MAP_TYPE_RINGBUF"
      : f.privileged  ? "needs kernel 5.8+"
                      : "not checked: creating BPF maps needs the privileges above");
  row("RST reasons", f.rst_reason_enum,
      f.rst_reason_enum ? "enum sk_rst_reason (6.10+)"
                        : "none: causes are derived from socket state at the RST");
  row("tracefs", f.tracefs,
      f.tracefs ? "mounted" : "not mounted (only classic tracepoints need it: mount -t tracefs nodev /sys/kernel/tracing)");
  row("bpffs", f.bpffs, f.bpffs ? "/sys/fs/bpf" : "not mounted (not needed)");
  row("fentry/fexit", f.fentry_ok(), f.fentry_ok() ? "trial attach ok" : f.fentry_error);
  row("kprobes", f.kprobe_ok(), f.kprobe_ok() ? "trial attach ok" : f.kprobe_error);
  std::string tps;
  for (const auto& t : f.btf_tracepoints) tps += (tps.empty() ? "" : " ") + t;
  row("tracepoints", !tps.empty(), tps.empty() ? "none found" : tps);

  const AttachPlan plan = make_attach_plan(f, *choice);
  std::printf("\nattach plan (--probes=%s):\n", probes.c_str());
  for (const PlanEntry& e : plan.entries) {
    std::printf("  %-16s %s\n  %-16s   why: %s\n", std::string(e.probe->name).c_str(),
                plan.describe(e).c_str(), "", e.why.c_str());
  }

  if (!plan.usable()) {
    std::printf("\nverdict: tracing cannot work here:\n");
    for (const auto& p : plan.problems) std::printf("  - %s\n", p.c_str());
    return 1;
  }
  try {
    TracerOptions opt;
    Tracer trial(plan, opt);
    std::printf("\ntrial load: ok, %zu programs loaded and attached (%s)\n", trial.attached().size(),
                join(trial.attached()).c_str());
  } catch (const TracerError& e) {
    std::printf("\ntrial load: FAILED\n%s\n\nverdict: tracing cannot work here\n", e.what());
    return 1;
  }
  std::printf("verdict: tracing works\n");
  return 0;
}

}  // namespace connreset
