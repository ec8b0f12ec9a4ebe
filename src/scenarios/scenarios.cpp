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

#include "scenarios/kit.h"

namespace connreset {
using namespace kit;

ScenarioOutcome run_unread_data_at_close() {
  ScenarioOutcome o = outcome("unread_data_at_close",
                              "a server answers and close()s with part of the request unread",
                              Cause::UnreadDataAtClose);
  o.expected_unread = kUnreadScenarioBytes;
  return run_pair(
      o,
      [](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        if (!send_all(fd, kResponse, sizeof(kResponse) - 1)) child_exit(kSetupFailed);
        // make the unread count exact: the whole request must have arrived
        if (!wait_unread(fd, static_cast<int>(kUnreadScenarioBytes))) child_exit(kSetupFailed);
        close(fd);
        child_exit(0);
      },
      unread_request_client);
}

ScenarioOutcome run_linger_zero_close() {
  ScenarioOutcome o = outcome("linger_zero_close",
                              "a server reads the request, then closes with SO_LINGER {1, 0}",
                              Cause::LingerZeroClose);
  return run_pair(
      o,
      [](int fd, int) {
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
                              Cause::ConnectionRefused);
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
                              std::nullopt);
  return run_pair(
      o,
      [](int fd, int) {
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
