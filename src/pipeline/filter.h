#pragma once
#include <cstdint>
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

  bool matches(const Explanation& x) const;
  bool matches(const LifecycleEvent& ev) const;
  bool matches(const Finding& f) const;
};

}  // namespace connreset
