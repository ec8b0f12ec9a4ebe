#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probes/features.h"

namespace connreset {

enum class ProbeFamily { Tracepoint, Fentry, Kprobe };
enum class FamilyChoice { Auto, Tracepoint, Fentry, Kprobe };

std::string_view family_name(ProbeFamily f);
std::optional<FamilyChoice> parse_family_choice(std::string_view s);  // auto|tracepoint|fentry|kprobe

// One way to implement a logical probe on some kernels.
struct Implementation {
  ProbeFamily family;
  std::vector<std::string_view> programs;  // BPF programs in the skeleton; none = carried by other probes
  std::string_view attach;                 // what it hooks, for people
  // "" when usable on this kernel, else why not
  std::function<std::string(const KernelFeatures&)> unmet;
  // attached too when the kernel has the function (e.g. IPv6 built as a module): {program, function}
  std::vector<std::pair<std::string_view, std::string_view>> optional = {};
};

// A fact connreset needs, with its implementations best first.
struct LogicalProbe {
  std::string_view name;
  std::string_view purpose;
  bool required;  // tracing cannot explain resets without it
  std::vector<Implementation> implementations;
};

// The table doctor prints and the loader reads.
const std::vector<LogicalProbe>& probe_table();

struct PlanEntry {
  const LogicalProbe* probe = nullptr;
  const Implementation* chosen = nullptr;  // nullptr: nothing usable
  std::string why;                         // why this one, or why none
};

struct AttachPlan {
  FamilyChoice requested = FamilyChoice::Auto;
  std::vector<PlanEntry> entries;
  std::vector<std::string> problems;  // reasons tracing cannot work; empty when usable

  bool usable() const { return problems.empty(); }
  std::vector<std::string> programs() const;  // BPF programs to load
  bool uses(ProbeFamily family) const;
  std::shared_ptr<const KernelFeatures> features;  // what the plan was made from
  std::string describe(const PlanEntry& e) const;  // "tp_btf/tcp_send_reset (tracepoint)"
};

// Chooses, per logical probe, the first implementation the kernel supports
// (within the requested family unless Auto).
AttachPlan make_attach_plan(const KernelFeatures& features, FamilyChoice choice);

// The plan for the running kernel, checking only what it can reach: no trial attach for
// tracepoints; kprobes (symbol table, trial attach) only when asked for, or when auto leaves a
// probe without an implementation otherwise. The same plan as make_attach_plan(detect_features(),
// choice): kprobes come last in every probe's list. A tracer starts ~1 s sooner in an emulated VM.
AttachPlan plan_for_running_kernel(FamilyChoice choice);

}  // namespace connreset
