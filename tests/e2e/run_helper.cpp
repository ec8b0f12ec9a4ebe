// Steps the process trees of tests/e2e/run_test.cpp are made of. Each step
// consumes its arguments and the next one runs, in the same process unless
// the step forks or execs:
//   unread-pair            fork a server and a client; the server close()s with unread data
//   clean-pair             the same exchange, closed cleanly (no reset)
//   wait-file PATH         wait until PATH exists
//   daemonize              fork, setsid, fork again; the grandchild execs the remaining steps
//   unread-server PATH     listen on 127.0.0.1, write "PORT PID" to PATH, accept one
//                          connection, wait for 20,000 bytes, close() without reading them
//   wait-signal PATH       print "ready", wait for SIGINT, write PATH, exit 42
//   exit N                 exit with N
#include "e2e/run_helper.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "scenarios/scenarios.h"

namespace connreset::e2e {
namespace {

volatile sig_atomic_t g_sigint = 0;
void on_sigint(int) { g_sigint = 1; }

int fail(const char* what) {
  std::fprintf(stderr, "run-helper: %s: %s\n", what, std::strerror(errno));
  return 3;
}

int unread_server(const std::string& path) {
  const int ls = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (ls < 0 || bind(ls, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(ls, 4) != 0 ||
      getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return fail("listen");
  }
  {
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp) << ntohs(a.sin_port) << " " << getpid() << "\n";
    if (rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  }
  const int fd = accept(ls, nullptr, nullptr);
  if (fd < 0) return fail("accept");
  // close only once all 20,000 bytes are queued: the RST is then certain
  for (int i = 0; i < 1000; ++i) {
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) == 0 && queued >= 20000) break;
    usleep(10000);
  }
  close(fd);
  close(ls);
  return 0;
}

}  // namespace

int run_helper(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    const std::string step = argv[i];
    auto arg = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "run-helper: %s needs an argument\n", step.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (step == "unread-pair" || step == "clean-pair") {
      const ScenarioOutcome o = step == "unread-pair" ? run_unread_data_at_close() : run_clean_close();
      if (!o.ok()) {
        std::fprintf(stderr, "run-helper: %s: %s\n", step.c_str(), o.error.c_str());
        return 3;
      }
      std::printf("port %u server %d client %d\n", o.server_port, o.server_pid, o.client_pid);
      std::fflush(stdout);
    } else if (step == "wait-file") {
      const std::string path = arg();
      struct stat st {};
      for (int n = 0; stat(path.c_str(), &st) != 0; ++n) {
        if (n > 3000) return fail("wait-file: timeout");
        usleep(10000);
      }
    } else if (step == "daemonize") {
      // the classic double fork: the daemon ends up with no parent in the tree
      // and a session of its own, then becomes another program by exec
      pid_t p = fork();
      if (p < 0) return fail("fork");
      if (p > 0) return 0;
      setsid();
      p = fork();
      if (p < 0) _exit(3);
      if (p > 0) _exit(0);
      std::vector<char*> next{const_cast<char*>("/proc/self/exe"), const_cast<char*>("--run-helper")};
      for (int j = i + 1; j < argc; ++j) next.push_back(argv[j]);
      next.push_back(nullptr);
      char self[4096];
      const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
      if (n <= 0) _exit(3);
      self[n] = '\0';
      next[0] = self;
      execv(self, next.data());
      _exit(3);
    } else if (step == "unread-server") {
      if (int rc = unread_server(arg()); rc != 0) return rc;
    } else if (step == "wait-signal") {
      const std::string path = arg();
      signal(SIGINT, on_sigint);
      std::printf("ready\n");
      std::fflush(stdout);
      for (int n = 0; !g_sigint && n < 3000; ++n) usleep(10000);
      if (!g_sigint) return 3;
      std::ofstream(path) << "SIGINT\n";
      return 42;
    } else if (step == "exit") {
      return std::atoi(arg().c_str());
    } else {
      std::fprintf(stderr, "run-helper: unknown step %s\n", step.c_str());
      return 2;
    }
  }
  return 0;
}

}  // namespace connreset::e2e
