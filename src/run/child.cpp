#include "run/child.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace connreset {
namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string fill_from_passwd(const passwd* pw, RunAs* out) {
  out->uid = pw->pw_uid;
  out->gid = pw->pw_gid;
  out->label = std::string(pw->pw_name) + " (uid " + std::to_string(pw->pw_uid) + ")";
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) n = 0;
  }
  groups.resize(static_cast<size_t>(n));
  out->groups = std::move(groups);
  return "";
}

std::atomic<pid_t> g_forward_to{0};
std::atomic<unsigned> g_signals{0};

void on_signal(int sig, siginfo_t* info, void*) {
  ++g_signals;
  // ^C on a terminal reaches the whole foreground process group, CMD
  // included (si_code SI_KERNEL): forwarding it would deliver it twice.
  if (info && info->si_code == SI_KERNEL) return;
  const pid_t pid = g_forward_to.load();
  if (pid > 0) kill(pid, sig);
}

}  // namespace

std::string resolve_run_as(const std::string& user_arg, RunAs* out) {
  *out = RunAs{};
  const bool root = geteuid() == 0;
  if (user_arg.empty()) {
    const char* sudo_uid = std::getenv("SUDO_UID");
    if (!root || !sudo_uid || !all_digits(sudo_uid)) return "";  // CMD runs as we do
    const uid_t uid = static_cast<uid_t>(std::strtoul(sudo_uid, nullptr, 10));
    if (uid == 0) return "";
    out->change = true;
    if (const passwd* pw = getpwuid(uid)) {
      fill_from_passwd(pw, out);
    } else {
      out->uid = uid;
      out->label = "uid " + std::to_string(uid);
    }
    // SUDO_GID is the group sudo was started with; it wins over the passwd entry
    if (const char* g = std::getenv("SUDO_GID"); g && all_digits(g)) {
      out->gid = static_cast<gid_t>(std::strtoul(g, nullptr, 10));
    }
    if (out->groups.empty()) out->groups = {out->gid};
    return "";
  }
  const passwd* pw = all_digits(user_arg) ? getpwuid(static_cast<uid_t>(std::strtoul(user_arg.c_str(), nullptr, 10)))
                                          : getpwnam(user_arg.c_str());
  if (!pw && !all_digits(user_arg)) return "--user " + user_arg + ": no such user";
  const uid_t uid = pw ? pw->pw_uid : static_cast<uid_t>(std::strtoul(user_arg.c_str(), nullptr, 10));
  if (uid == geteuid()) return "";  // already that user
  if (!root) return "--user " + user_arg + ": changing the user needs root";
  out->change = true;
  if (pw) {
    fill_from_passwd(pw, out);
  } else {
    out->uid = uid;
    out->gid = static_cast<gid_t>(uid);
    out->groups = {out->gid};
    out->label = "uid " + std::to_string(uid);
  }
  return "";
}

std::string Child::fork_held(const std::vector<std::string>& args, const RunAs& as) {
  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  if (pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    close(go[0]);
    close(go[1]);
    return std::string("pipe: ") + std::strerror(e);
  }
  // everything the child needs, prepared before fork: after it only
  // async-signal-safe calls
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  pid_ = fork();
  if (pid_ < 0) {
    const int e = errno;
    close(go[0]), close(go[1]), close(err[0]), close(err[1]);
    return std::string("fork: ") + std::strerror(e);
  }
  if (pid_ == 0) {
    close(go[1]);
    close(err[0]);
    // dispositions connreset changed must not leak into CMD (an ignored
    // SIGPIPE survives exec)
    for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    char byte = 0;
    ssize_t n;
    do n = read(go[0], &byte, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) _exit(125);  // connreset went away before releasing us
    close(go[0]);
    int e = 0;
    if (as.change) {
      if (setgroups(as.groups.size(), as.groups.data()) != 0 || setgid(as.gid) != 0 ||
          setuid(as.uid) != 0) {
        e = errno;
      }
    }
    if (e == 0) {
      execvp(argv[0], argv.data());
      e = errno;
    }
    ssize_t w = write(err[1], &e, sizeof(e));
    (void)w;
    _exit(e == ENOENT ? 127 : 126);
  }
  close(go[0]);
  close(err[1]);
  go_fd_ = go[1];
  err_fd_ = err[0];
  return "";
}

std::string Child::release(int* exit_code) {
  const char byte = 1;
  ssize_t n;
  do n = write(go_fd_, &byte, 1);
  while (n < 0 && errno == EINTR);
  close(go_fd_);
  go_fd_ = -1;
  int e = 0;
  do n = read(err_fd_, &e, sizeof(e));
  while (n < 0 && errno == EINTR);
  close(err_fd_);
  err_fd_ = -1;
  if (n != static_cast<ssize_t>(sizeof(e))) return "";  // closed by exec: CMD runs
  *exit_code = e == ENOENT ? 127 : 126;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return std::strerror(e);
}

std::optional<int> Child::poll_exit() {
  if (pid_ <= 0) return std::nullopt;
  // look without reaping first: the pid must not be signalled once it can be reused
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) {
    return std::nullopt;
  }
  g_forward_to = 0;
  int status = 0;
  if (waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}

void Child::abandon() {
  if (go_fd_ >= 0) close(go_fd_);  // a held child exits 125 on EOF
  if (err_fd_ >= 0) close(err_fd_);
  go_fd_ = err_fd_ = -1;
  if (pid_ > 0) {
    g_forward_to = 0;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

void forward_signals_to(pid_t pid) {
  g_forward_to = pid;
  struct sigaction sa {};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

unsigned signals_received() { return g_signals.load(); }

}  // namespace connreset
