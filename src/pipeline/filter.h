#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "correlate/reset_case.h"
#include "explain/explanation.h"

namespace connreset {

// --pid/--comm/--port/--cgroup/--netns. Applied to explained resets, not to
// raw events: a reset involving the filtered process must still be explained
// from both ends.
struct Filter {
  std::optional<uint32_t> pid;
  std::optional<std::string> comm;
  std::optional<uint16_t> port;
  std::optional<uint64_t> cgroup;
  std::optional<uint32_t> netns;
  // connreset run: only what involves a process (tgid) of CMD's tree: either
  // end, the actor or the closer of a reset; the task of a finding.
  std::function<bool(uint32_t tgid)> process_tree;

  bool matches(const Explanation& x) const;
  bool matches(const LifecycleEvent& ev) const;
  bool matches(const Finding& f) const;
};

}  // namespace connreset
