// The seccomp allow-list of trace and record after attach.
//
// Why EPERM and not a kill by default: a call we missed (a libc or libbpf
// update that starts using another syscall) then becomes an error message the
// recorder reports, not a daemon dead in production with its journal cut off.
// The calls that kill are ones no path of connreset or its libraries makes
// after attaching and that only an attacker would: running a program, tracing
// another process, loading kernel code, changing ids or namespaces.
//
// Reads that other stages make at event time stay allowed: openat/read/
// getdents64/newfstatat for /proc/PID/cgroup and /var/log/pods (container and
// pod names), read-only for trace. src/enrich/resolver.cpp makes exactly these
// (open O_RDONLY + read of /proc/PID/cgroup, stat() of a cgroup directory,
// opendir/readdir of --pod-logs, ../containers and, for tasks already gone,
// the cgroup2 hierarchy); keep them allowed while it runs after the drop. What the unprivileged user may read then
// is the file system's decision: /proc/PID/cgroup is 0444 for every process
// (unless /proc is mounted hidepid=), /var/log/pods is 0755 on kubelets.
#include <fcntl.h>
#include <linux/perf_event.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace connreset::sandbox {
namespace {

// Every command's steady state: polling the ring buffer, reading the counters
// map, writing stdout/stderr, malloc, clocks, signals, reading /proc.
constexpr const char* kAlways[] = {
    "read", "readv", "pread64", "write", "writev", "close", "lseek",
    "fstat", "newfstatat", "statx", "stat", "lstat", "getdents64", "fcntl",
    "readlink", "readlinkat", "access", "faccessat", "faccessat2", "getcwd",
    "brk", "munmap", "mremap", "madvise",
    "futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity",
    "clock_gettime", "clock_getres", "gettimeofday", "time", "clock_nanosleep", "nanosleep",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll", "ppoll",
    "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "restart_syscall",
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
    "tgkill", "tkill",  // abort() raising SIGABRT at itself
    "uname", "getrandom", "exit", "exit_group",
};

// record: new journal files, fsync, rotation deleting the oldest, its lock.
constexpr const char* kCreateFiles[] = {"fsync", "fdatasync", "unlinkat", "flock", "fchmod", "ftruncate"};

// record --metrics: the HTTP thread's event loop.
constexpr const char* kServeTcp[] = {
    "accept", "accept4", "recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown",
    "setsockopt", "getsockopt", "getsockname", "getpeername",
};

// Only an attacker makes these after attach: the process dies.
constexpr const char* kKill[] = {
    "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset", "unshare", "setns", "mount", "umount2", "pivot_root",
    "chroot", "open_by_handle_at", "userfaultfd", "perf_event_open",
};

struct CtxDeleter {
  void operator()(void* c) const { seccomp_release(c); }
};

class Builder {
 public:
  explicit Builder(scmp_filter_ctx ctx) : ctx_(ctx) {}
  void rule(uint32_t action, const char* name, std::vector<scmp_arg_cmp> args = {}) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;  // not a call of this architecture
    const int rc = seccomp_rule_add_array(ctx_, action, nr, static_cast<unsigned>(args.size()),
                                          args.empty() ? nullptr : args.data());
    if (rc != 0 && error_.empty()) error_ = std::string("seccomp rule for ") + name + ": " + std::strerror(-rc);
  }
  const std::string& error() const { return error_; }

 private:
  scmp_filter_ctx ctx_;
  std::string error_;
};

}  // namespace

std::string confine(const Policy& policy) {
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) return "seccomp_init failed";
  // every thread (the metrics thread exists by now), and other ABIs (x32, ia32) die
  if (seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_TSYNC, 1) != 0) return "seccomp: no TSYNC";
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  Builder b(ctx.get());
  for (const char* name : kAlways) b.rule(SCMP_ACT_ALLOW, name);
  for (const char* name : kKill) b.rule(SCMP_ACT_KILL_PROCESS, name);

  // memory, never executable: no new code can be mapped in
  b.rule(SCMP_ACT_ALLOW, "mmap", {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
  b.rule(SCMP_ACT_ALLOW, "mprotect", {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
  // no bpf() at all: the ring buffer and the counters map are read through
  // mappings made before the drop, so no program, map or link can be made
  // isatty() in stdio, the terminal's width, and disabling perf-event links at detach
  for (const unsigned long req : {static_cast<unsigned long>(TCGETS), static_cast<unsigned long>(TIOCGWINSZ),
                                  static_cast<unsigned long>(PERF_EVENT_IOC_DISABLE)}) {
    b.rule(SCMP_ACT_ALLOW, "ioctl", {SCMP_A1(SCMP_CMP_EQ, req)});
  }
  if (policy.create_files) {
    b.rule(SCMP_ACT_ALLOW, "openat");
    b.rule(SCMP_ACT_ALLOW, "open");
    for (const char* name : kCreateFiles) b.rule(SCMP_ACT_ALLOW, name);
  } else {
    // read-only opens: /proc, /sys, /var/log/pods; never create, write or truncate
    const scmp_datum_t writes = O_ACCMODE | O_CREAT | O_TRUNC;
    b.rule(SCMP_ACT_ALLOW, "openat", {SCMP_A2(SCMP_CMP_MASKED_EQ, writes, 0)});
    b.rule(SCMP_ACT_ALLOW, "open", {SCMP_A1(SCMP_CMP_MASKED_EQ, writes, 0)});
  }
  if (policy.serve_tcp) {
    for (const char* name : kServeTcp) b.rule(SCMP_ACT_ALLOW, name);
  }
  if (!b.error().empty()) return b.error();
  if (const int rc = seccomp_load(ctx.get()); rc != 0) return std::string("seccomp_load: ") + std::strerror(-rc);
  return "";
}

}  // namespace connreset::sandbox
