#include "scenarios/scenarios.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/names.h"

namespace connreset {
namespace {

constexpr size_t kRequestHead = 100;   // what every server reads before answering
constexpr int kChildTimeoutSec = 10;   // a wedged child kills itself
constexpr int kSetupFailed = 250;      // child exit code: the scenario itself broke
const char kResponse[] = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";

// ---- helpers usable in a forked child (no allocation, no stdio) ----

[[noreturn]] void child_exit(int code) { _exit(code); }

void child_setup(const char* comm) {
  prctl(PR_SET_NAME, comm, 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  alarm(kChildTimeoutSec);
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool send_all(int fd, const char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool send_filler(int fd, size_t len) {
  char block[4096];
  std::memset(block, 'x', sizeof(block));
  while (len > 0) {
    const size_t chunk = len < sizeof(block) ? len : sizeof(block);
    if (!send_all(fd, block, chunk)) return false;
    len -= chunk;
  }
  return true;
}

bool recv_exactly(int fd, size_t len) {
  char buf[512];
  while (len > 0) {
    const ssize_t n = recv(fd, buf, len < sizeof(buf) ? len : sizeof(buf), 0);
    if (n <= 0) return false;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Reads until recv() returns 0 or fails; exit code: 0 for EOF, errno otherwise.
[[noreturn]] void read_to_end_and_exit(int fd) {
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) child_exit(0);
    if (n < 0) child_exit(errno == EAGAIN ? kSetupFailed : errno);
  }
}

bool wait_unread(int fd, int want) {
  for (int i = 0; i < 5000; ++i) {
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) != 0) return false;
    if (queued == want) return true;
    usleep(1000);
  }
  return false;
}

int connect_to(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in a = loopback(port);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) return -errno;
  return fd;
}

// ---- the parent side ----

struct Listener {
  int fd = -1;
  uint16_t port = 0;
};

Listener listen_loopback() {
  Listener l;
  l.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof(a);
  if (l.fd < 0 || bind(l.fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(l.fd, 16) != 0 || getsockname(l.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (l.fd >= 0) close(l.fd);
    return Listener{};
  }
  l.port = ntohs(a.sin_port);
  return l;
}

// Waits for a child; kills it if it outlives the timeout. Returns its exit code, or -signal.
int reap(pid_t pid) {
  const time_t deadline = time(nullptr) + kChildTimeoutSec + 2;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return -1;
    if (time(nullptr) > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    usleep(2000);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

std::string result_of(int code) {
  if (code == 0) return "EOF";
  if (code == kSetupFailed) return "setup failed";
  if (code < 0) return "killed by signal " + std::to_string(-code);
  return errno_name(code);
}

template <typename ServerFn, typename ClientFn>
ScenarioOutcome run_pair(ScenarioOutcome out, ServerFn server, ClientFn client) {
  Listener l = listen_loopback();
  if (l.fd < 0) {
    out.error = std::string("cannot listen on 127.0.0.1: ") + std::strerror(errno);
    return out;
  }
  out.server_port = l.port;
  out.server_comm = "cr-server";
  out.client_comm = "cr-client";
  out.server_pid = fork();
  if (out.server_pid == 0) {
    child_setup("cr-server");
    const int fd = accept(l.fd, nullptr, nullptr);
    close(l.fd);
    if (fd < 0) child_exit(kSetupFailed);
    server(fd);
    child_exit(kSetupFailed);  // servers exit themselves
  }
  close(l.fd);  // only the server holds the listener now
  out.client_pid = fork();
  if (out.client_pid == 0) {
    child_setup("cr-client");
    client(l.port);
    child_exit(kSetupFailed);
  }
  const int server_code = reap(out.server_pid);
  const int client_code = reap(out.client_pid);
  out.client_result = result_of(client_code);
  if (server_code != 0) out.error = "server failed: " + result_of(server_code);
  if (client_code == kSetupFailed || client_code < 0) out.error = "client failed: " + out.client_result;
  return out;
}

ScenarioOutcome outcome(const char* name, const char* title, const char* cause) {
  ScenarioOutcome o;
  o.name = name;
  o.title = title;
  o.expected_cause = cause;
  return o;
}

}  // namespace

ScenarioOutcome run_unread_data_at_close() {
  ScenarioOutcome o = outcome("unread_data_at_close",
                              "a server answers and close()s with part of the request unread",
                              "unread_data_at_close");
  o.expected_unread = kUnreadScenarioBytes;
  return run_pair(
      o,
      [](int fd) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        if (!send_all(fd, kResponse, sizeof(kResponse) - 1)) child_exit(kSetupFailed);
        // make the unread count exact: the whole request must have arrived
        if (!wait_unread(fd, static_cast<int>(kUnreadScenarioBytes))) child_exit(kSetupFailed);
        close(fd);
        child_exit(0);
      },
      [](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0) child_exit(kSetupFailed);
        if (!send_filler(fd, kRequestHead + kUnreadScenarioBytes)) child_exit(kSetupFailed);
        read_to_end_and_exit(fd);
      });
}

ScenarioOutcome run_linger_zero_close() {
  ScenarioOutcome o = outcome("linger_zero_close",
                              "a server reads the request, then closes with SO_LINGER {1, 0}",
                              "linger_zero_close");
  return run_pair(
      o,
      [](int fd) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        const linger lg{1, 0};
        if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0) child_exit(kSetupFailed);
        close(fd);
        child_exit(0);
      },
      [](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0) child_exit(kSetupFailed);
        if (!send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
        read_to_end_and_exit(fd);
      });
}

ScenarioOutcome run_connection_refused() {
  ScenarioOutcome o = outcome("connection_refused",
                              "a client connects to a port nobody listens on",
                              "connection_refused");
  // a port known to be free: bind one, then let it go
  Listener l = listen_loopback();
  if (l.fd < 0) {
    o.error = "cannot find a free port";
    return o;
  }
  close(l.fd);
  o.server_port = l.port;
  o.client_comm = "cr-client";
  o.client_pid = fork();
  if (o.client_pid == 0) {
    child_setup("cr-client");
    const int r = connect_to(l.port);
    child_exit(r >= 0 ? kSetupFailed : -r);
  }
  o.client_result = result_of(reap(o.client_pid));
  return o;
}

ScenarioOutcome run_clean_close() {
  ScenarioOutcome o = outcome("clean_close",
                              "read the request, answer, shutdown(SHUT_WR), drain to EOF, close",
                              "");
  return run_pair(
      o,
      [](int fd) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        if (!send_all(fd, kResponse, sizeof(kResponse) - 1)) child_exit(kSetupFailed);
        if (shutdown(fd, SHUT_WR) != 0) child_exit(kSetupFailed);
        char buf[512];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
        }
        close(fd);
        child_exit(n == 0 ? 0 : kSetupFailed);
      },
      [](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0) child_exit(kSetupFailed);
        if (!send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
        char buf[512];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
        }
        close(fd);
        child_exit(n == 0 ? 0 : errno);
      });
}

const std::vector<Scenario>& demo_scenarios() {
  static const std::vector<Scenario> kScenarios = {
      {"unread_data_at_close", "server closes with unread request data", run_unread_data_at_close},
      {"linger_zero_close", "SO_LINGER {1, 0} close", run_linger_zero_close},
      {"connection_refused", "connect to a port nobody listens on", run_connection_refused},
      {"clean_close", "shutdown(SHUT_WR), drain, close: no reset", run_clean_close},
  };
  return kScenarios;
}

}  // namespace connreset
