#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "commands/commands.h"

namespace connreset {
namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// A namespace or cgroup is named by number or by a path whose inode is that number.
std::string inode_of(const std::string& arg, const char* what, uint64_t* out) {
  if (all_digits(arg)) {
    errno = 0;
    *out = std::strtoull(arg.c_str(), nullptr, 10);
    if (errno == 0) return "";
  }
  struct stat st {};
  if (stat(arg.c_str(), &st) != 0) {
    return std::string("--") + what + " " + arg + ": " + std::strerror(errno) +
           " (give a number or an existing path)";
  }
  *out = st.st_ino;
  return "";
}

}  // namespace

std::string resolve_trace_args(TraceArgs& args) {
  const auto family = parse_family_choice(args.probes);
  if (!family) return "--probes " + args.probes + ": expected auto, tracepoint, fentry or kprobe";
  args.live.family = *family;
  args.live.correlator.settle_ns = static_cast<uint64_t>(args.settle_ms) * 1'000'000;
  args.live.correlator.lifecycle = args.all;
  args.live.correlator.loop_threshold = args.loop_threshold;
  args.live.tracer.loop_report_first = args.loop_threshold;
  if (!args.netns_arg.empty()) {
    uint64_t ino = 0;
    if (std::string err = inode_of(args.netns_arg, "netns", &ino); !err.empty()) return err;
    args.live.filter.netns = static_cast<uint32_t>(ino);
  }
  if (!args.cgroup_arg.empty()) {
    uint64_t id = 0;
    // on cgroup v2 the cgroup id is the directory's inode number
    std::string path = args.cgroup_arg;
    if (!all_digits(path) && path.rfind("/sys/fs/cgroup", 0) != 0) path = "/sys/fs/cgroup/" + path;
    if (std::string err = inode_of(path, "cgroup", &id); !err.empty()) return err;
    args.live.filter.cgroup = id;
  }
  return "";
}

}  // namespace connreset
