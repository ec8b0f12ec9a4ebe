// Scenarios that need more than one loopback: two namespaces joined by veth
// (the container case), and a peer that goes silent (keepalive).
#include <linux/filter.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "scenarios/kit.h"
#include "scenarios/scenarios.h"
#include "scenarios/topology.h"

namespace connreset {
using namespace kit;

namespace {

uint32_t netns_of(pid_t pid) {
  struct stat st {};
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  return stat(path.c_str(), &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (pipe(fds) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
};

sockaddr_in at(const char* addr, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, addr, &a.sin_addr);
  return a;
}

// A child in a namespace of its own: says it exists, waits for the veth, configures its end.
void enter_host(const Pipe& ready, const Pipe& go, const char* ifname, const char* address) {
  if (unshare(CLONE_NEWNET) != 0) child_exit(kSetupFailed);
  signal_fd(ready.w);
  if (!wait_fd(go.r)) child_exit(kSetupFailed);
  if (!veth_configure(ifname, address).empty()) child_exit(kSetupFailed);
}

}  // namespace

ScenarioOutcome run_cross_netns_unread() {
  ScenarioOutcome o = outcome("cross_netns_unread",
                              "two containers (netns + veth): the server closes with unread request data",
                              Cause::UnreadDataAtClose);
  o.expected_unread = kUnreadScenarioBytes;
  o.server_comm = "cr-server";
  o.client_comm = "cr-client";
  Pipe server_ready, server_go, client_ready, client_go, port_to_parent, port_to_client;
  o.server_pid = fork();
  if (o.server_pid == 0) {
    child_setup("cr-server");
    enter_host(server_ready, server_go, kHostBIf, kHostBAddr);
    const int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = at(kHostBAddr, 0);
    socklen_t len = sizeof(a);
    if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 4) != 0 ||
        getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      child_exit(kSetupFailed);
    }
    const uint16_t port = ntohs(a.sin_port);
    (void)!write(port_to_parent.w, &port, sizeof(port));
    const int fd = accept(l, nullptr, nullptr);
    if (fd < 0 || !recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
    if (!wait_unread(fd, static_cast<int>(kUnreadScenarioBytes))) child_exit(kSetupFailed);
    close(fd);
    child_exit(0);
  }
  o.client_pid = fork();
  if (o.client_pid == 0) {
    child_setup("cr-client");
    enter_host(client_ready, client_go, kHostAIf, kHostAAddr);
    uint16_t port = 0;
    if (read(port_to_client.r, &port, sizeof(port)) != sizeof(port)) child_exit(kSetupFailed);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in server = at(kHostBAddr, port);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof(server)) != 0) child_exit(kSetupFailed);
    if (!send_filler(fd, kRequestHead + kUnreadScenarioBytes)) child_exit(kSetupFailed);
    read_to_end_and_exit(fd);
  }
  if (wait_fd(server_ready.r) && wait_fd(client_ready.r)) {
    o.server_netns = netns_of(o.server_pid);
    o.client_netns = netns_of(o.client_pid);
    o.error = veth_between(o.client_pid, o.server_pid);
  } else {
    o.error = "a namespace could not be created";
  }
  signal_fd(server_go.w);
  signal_fd(client_go.w);
  uint16_t port = 0;
  if (o.error.empty() && read(port_to_parent.r, &port, sizeof(port)) == sizeof(port)) {
    o.server_port = port;
    (void)!write(port_to_client.w, &port, sizeof(port));
  }
  const int server_code = reap(o.server_pid);
  const int client_code = reap(o.client_pid);
  o.client_result = result_of(client_code);
  o.server_result = result_of(server_code);
  if (o.error.empty() && (server_code != 0 || client_code == kSetupFailed)) {
    o.error = "server " + o.server_result + ", client " + o.client_result;
  }
  return o;
}

ScenarioOutcome run_keepalive_timeout() {
  ScenarioOutcome o = outcome("keepalive_timeout",
                              "the server goes silent (drops every segment); the client's keepalive gives up",
                              Cause::KeepaliveTimeout);
  return run_pair(
      o,
      [](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        // a peer that stops answering: a socket filter that drops every incoming segment
        sock_filter drop_all[] = {{BPF_RET | BPF_K, 0, 0, 0}};
        sock_fprog prog{1, drop_all};
        if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) child_exit(kSetupFailed);
        sleep(4);  // the client gives up after ~3 s
        child_exit(0);
      },
      [](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0) child_exit(kSetupFailed);
        const int on = 1, idle = 1, interval = 1, probes = 2;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
        if (!send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
        read_to_end_and_exit(fd);  // ETIMEDOUT once keepalive gives up
      });
}

}  // namespace connreset
