#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "commands/commands.h"

namespace connreset {
namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// A cgroup is named by number or by a path whose inode is that number.
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

// A network namespace file: on nsfs (/proc/PID/ns/net, a bind mount under
// /run/netns) and of type CLONE_NEWNET. Any other path's inode would be
// accepted as a namespace that never matches, and trace nothing.
std::string netns_of_path(const std::string& path, uint32_t* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    return "--netns " + path + ": " + std::strerror(errno) +
           " (give an inode number, /proc/PID/ns/net or /run/netns/NAME)";
  }
  struct statfs fs {};
  struct stat st {};
  std::string err;
  if (fstatfs(fd, &fs) != 0 || fstat(fd, &st) != 0) {
    err = "--netns " + path + ": " + std::strerror(errno);
  } else if (static_cast<unsigned long>(fs.f_type) != NSFS_MAGIC) {
    err = "--netns " + path + ": not a namespace file (give /proc/PID/ns/net, /run/netns/NAME or an inode number)";
  } else if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
    err = "--netns " + path + ": a namespace, but not a network namespace";
  } else {
    *out = static_cast<uint32_t>(st.st_ino);
  }
  close(fd);
  return err;
}

// The inode of a network namespace some process is in, or that /run/netns names.
bool netns_inode_exists(uint64_t ino) {
  auto matches = [ino](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && st.st_ino == ino;
  };
  if (DIR* d = opendir("/run/netns")) {
    bool found = false;
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] != '.' && matches(std::string("/run/netns/") + e->d_name)) {
        found = true;
        break;
      }
    }
    closedir(d);
    if (found) return true;
  }
  DIR* d = opendir("/proc");
  if (!d) return false;
  bool found = false;
  while (const dirent* e = readdir(d)) {
    if (all_digits(e->d_name) && matches(std::string("/proc/") + e->d_name + "/ns/net")) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

std::string resolve_netns(const std::string& arg, uint32_t* out) {
  if (!all_digits(arg)) return netns_of_path(arg, out);
  uint32_t ino = 0;
  const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), ino);
  if (ec != std::errc() || end != arg.data() + arg.size()) {
    return "--netns " + arg + ": a namespace inode is a 32-bit number (at most 4294967295)";
  }
  if (!netns_inode_exists(ino)) {
    return "--netns " + arg + ": no process is in a network namespace with this inode, and no "
           "/run/netns entry has it (give /proc/PID/ns/net or /run/netns/NAME instead)";
  }
  *out = ino;
  return "";
}

}  // namespace

std::string resolve_trace_args(TraceArgs& args) {
  const auto family = parse_family_choice(args.probes);
  if (!family) return "--probes " + args.probes + ": expected auto, tracepoint, fentry or kprobe";
  args.live.family = *family;
  if (args.json) args.output = "json";
  const auto format = parse_output_format(args.output);
  if (!format) return "-o " + args.output + ": expected text, json or columns";
  args.format = *format;
  args.live.correlator.settle_ns = static_cast<uint64_t>(args.settle_ms) * 1'000'000;
  args.live.correlator.closed_grace_ns = static_cast<uint64_t>(args.closed_keep_ms) * 1'000'000;
  args.live.correlator.lifecycle = args.all;
  args.live.tracer.all_states = args.all;  // --all shows every change: none left out in the kernel
  args.live.correlator.loop_threshold = args.loop_threshold;
  args.live.tracer.loop_report_first = args.loop_threshold;
  if (!args.netns_arg.empty()) {
    uint32_t ino = 0;
    if (std::string err = resolve_netns(args.netns_arg, &ino); !err.empty()) return err;
    args.live.filter.netns = ino;
  }
  if (!args.cgroup_arg.empty()) {
    uint64_t id = 0;
    // on cgroup v2 the cgroup id is the directory's inode number
    std::string path = args.cgroup_arg;
    if (!all_digits(path) && path.rfind("/sys/fs/cgroup", 0) != 0) path = "/sys/fs/cgroup/" + path;
    if (std::string err = inode_of(path, "cgroup", &id); !err.empty()) return err;
    args.live.filter.cgroup = id;
  }
  // looked up now, while /etc/passwd is still readable and before anything is attached
  if (std::string err = sandbox::resolve_user(args.user, &args.run_as); !err.empty()) return err;
  return "";
}

}  // namespace connreset
