#include "commands/commands.h"

namespace connreset {

std::string drop_privileges() { return sandbox::drop_to(sandbox::RunAs{.name = "root", .uid = 0, .gid = 0}); }

std::string drop_to_user(const TraceArgs& args) {
  // The ring buffer is mmapped and the counters map fd is open: reading them
  // needs no capability, so a bug in the reader cannot be used as root's.
  if (std::string err = sandbox::drop_to(args.run_as); !err.empty()) {
    return "cannot switch to user " + args.run_as.name + " after attaching: " + err;
  }
  return "";
}

std::string confine_steady_state(const sandbox::Policy& policy) {
  if (std::string err = sandbox::confine(policy); !err.empty()) {
    return "cannot install the seccomp filter: " + err;
  }
  return "";
}

}  // namespace connreset
