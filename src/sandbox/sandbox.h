#pragma once
// Least privilege after attach: once trace/record hold every fd they need
// (ring buffer, counters map, journal directory, metrics socket, stdout), the
// process becomes an unprivileged user without capabilities and confines
// itself to the system calls of its steady state.
#include <sys/types.h>

#include <string>

namespace connreset::sandbox {

// Who the process runs as after attaching (--user). keep_root: --user root,
// uid 0 stays but every capability goes (the behaviour before --user existed).
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  bool keep_root() const { return uid == 0; }
};

// "nobody", "daemon", "65534": looks the user up (before any sandbox, while
// /etc/passwd is still readable). Returns "" or why it cannot be used.
std::string resolve_user(const std::string& spec, RunAs* out);

// What the steady state of the command does, for the seccomp allow-list.
struct Policy {
  bool create_files = false;  // record: new journal files, unlink old ones
  bool serve_tcp = false;     // record --metrics: accept and answer scrapes
};

// Drops the capability bounding set, sets no_new_privs, switches every thread
// to who.uid/gid (supplementary groups cleared), clears the capability sets
// and checks that all of that really happened. Returns "" or the step that failed.
std::string drop_to(const RunAs& who);

// Installs the seccomp filter for `policy` on every thread of the process
// (TSYNC). Calls outside the allow-list fail with EPERM; a few that only an
// attacker would make (execve, ptrace, module loading, ...) kill the process.
// Returns "" or why the filter could not be installed.
std::string confine(const Policy& policy);

// Reads /proc/self/status: "Uid: ... CapEff: ... Seccomp: ..." for -v and tests.
std::string status_summary();

}  // namespace connreset::sandbox
