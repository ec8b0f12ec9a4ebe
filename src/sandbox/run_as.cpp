// Becoming an unprivileged user once everything privileged is done.
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string>

#include "sandbox/sandbox.h"

namespace connreset::sandbox {
namespace {

std::string failed(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

std::string resolve_user(const std::string& spec, RunAs* out) {
  if (spec.empty()) return "--user: empty (give a user name or uid; root keeps uid 0)";
  errno = 0;
  const passwd* pw = getpwnam(spec.c_str());
  if (!pw) {
    uint32_t uid = 0;
    const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), uid);
    if (ec == std::errc() && end == spec.data() + spec.size()) pw = getpwuid(uid);
    if (!pw && ec == std::errc() && end == spec.data() + spec.size()) {
      return "--user " + spec + ": no such uid in the user database";
    }
  }
  if (!pw) return "--user " + spec + ": no such user";
  out->name = pw->pw_name;
  out->uid = pw->pw_uid;
  out->gid = pw->pw_gid;
  return "";
}

std::string drop_to(const RunAs& who) {
  // no_new_privs first: nothing exec'd from here on could gain privileges back
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("PR_SET_NO_NEW_PRIVS");
  // The bounding set needs CAP_SETPCAP, which the uid switch below takes away.
  // EINVAL = past the last capability this kernel knows; any other failure
  // on a capability still in the set is an error, never a silent stop.
  for (int cap = 0;; ++cap) {
    const int in_set = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (in_set < 0) {
      if (errno == EINVAL) break;
      return failed("PR_CAPBSET_READ " + std::to_string(cap));
    }
    if (in_set == 0) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return failed("PR_CAPBSET_DROP " + std::to_string(cap) + " (needs CAP_SETPCAP)");
    }
  }
  if (!who.keep_root()) {
    // glibc applies these to every thread of the process (setxid broadcast)
    if (setgroups(0, nullptr) != 0) return failed("setgroups (needs CAP_SETGID)");
    if (setresgid(who.gid, who.gid, who.gid) != 0) return failed("setresgid " + std::to_string(who.gid));
    // leaving uid 0 clears the permitted and effective capability sets
    if (setresuid(who.uid, who.uid, who.uid) != 0) return failed("setresuid " + std::to_string(who.uid));
  }
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, 2> caps{};
  if (syscall(SYS_capset, &hdr, caps.data()) != 0) return failed("capset");
  // check, do not trust: the ids and the sets as the kernel now sees them
  uid_t r = 0, e = 0, s = 0;
  if (getresuid(&r, &e, &s) != 0 || r != who.uid || e != who.uid || s != who.uid) {
    return "uid is still " + std::to_string(e) + " after switching to " + std::to_string(who.uid);
  }
  if (syscall(SYS_capget, &hdr, caps.data()) != 0) return failed("capget");
  for (const auto& c : caps) {
    if (c.effective || c.permitted || c.inheritable) return "capabilities remain after capset";
  }
  return "";
}

std::string status_summary() {
  std::ifstream in("/proc/self/status");
  std::string line, out;
  while (std::getline(in, line)) {
    for (const char* key : {"Uid:", "Gid:", "CapEff:", "NoNewPrivs:", "Seccomp:"}) {
      if (line.rfind(key, 0) == 0) out += (out.empty() ? "" : "; ") + line;
    }
  }
  for (char& c : out) if (c == '\t') c = ' ';
  return out;
}

}  // namespace connreset::sandbox
