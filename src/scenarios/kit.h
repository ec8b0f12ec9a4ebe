#pragma once
// Building blocks for scenarios: forked server/client processes on real
// sockets. Everything a child calls is async-signal-safe enough for a fork of
// a multithreaded process (no allocation, no stdio).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "scenarios/scenarios.h"

namespace connreset::kit {

inline constexpr size_t kRequestHead = 100;  // what every server reads before answering
inline constexpr int kChildTimeoutSec = 10;  // a wedged child kills itself
inline constexpr int kSetupFailed = 250;     // child exit code: the scenario itself broke
inline constexpr const char kResponse[] = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";

[[noreturn]] void child_exit(int code);
void child_setup(const char* comm);
sockaddr_in loopback(uint16_t port);
bool send_all(int fd, const char* data, size_t len);
bool send_filler(int fd, size_t len);
bool recv_exactly(int fd, size_t len);
[[noreturn]] void read_to_end_and_exit(int fd);  // exit 0 on EOF, errno otherwise
bool wait_unread(int fd, int want);
bool wait_tcp_state(int fd, uint8_t state);
// Server side: reads the request head, shutdown(SHUT_WR), waits for the peer's ACK (FIN_WAIT2);
// exits the child with kSetupFailed if any step fails.
void read_head_then_half_close(int fd);
int connect_to(uint16_t port);  // fd, or -errno
// The client of every unread-data scenario: sends the request head plus
// kUnreadScenarioBytes the server will never read, then reads to the end.
[[noreturn]] void unread_request_client(uint16_t port);
bool send_fd(int unix_sock, int fd);  // SCM_RIGHTS
int recv_fd(int unix_sock);           // -1 on failure
void signal_fd(int fd);          // one byte: "go on"
bool wait_fd(int fd);            // waits for that byte (or EOF: false)

struct Listener {
  int fd = -1;
  uint16_t port = 0;
};
Listener listen_loopback();
int reap(pid_t pid);  // exit code, or -signal
std::string result_of(int code);
ScenarioOutcome outcome(const char* name, const char* title, std::optional<Cause> cause);

// Forks "cr-server" (accepts one connection, runs server(fd)) and "cr-client"
// (runs client(port)); both must exit themselves. Waits for both.
template <typename ServerFn, typename ClientFn>
ScenarioOutcome run_pair(ScenarioOutcome out, ServerFn server, ClientFn client) {
  Listener l = listen_loopback();
  if (l.fd < 0) {
    out.error = "cannot listen on 127.0.0.1";
    return out;
  }
  out.server_port = l.port;
  out.server_comm = "cr-server";
  out.client_comm = "cr-client";
  out.server_pid = fork();
  if (out.server_pid == 0) {
    child_setup("cr-server");
    const int fd = accept(l.fd, nullptr, nullptr);
    if (fd < 0) child_exit(kSetupFailed);
    server(fd, l.fd);
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
  out.server_result = result_of(server_code);
  if (client_code == kSetupFailed || client_code < -1) out.error = "client failed: " + out.client_result;
  if (server_code == kSetupFailed) out.error = "server failed: " + out.server_result;
  return out;
}

}  // namespace connreset::kit
