// One scenario per cause in the catalog, built from real sockets.
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "decode/event.h"
#include "scenarios/kit.h"
#include "scenarios/packets.h"
#include "scenarios/scenarios.h"

namespace connreset {
using namespace kit;

namespace {

// Client that sends the request head, then reads to the end.
auto plain_client = [](uint16_t port) {
  const int fd = connect_to(port);
  if (fd < 0) child_exit(kSetupFailed);
  if (!send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
  read_to_end_and_exit(fd);
};

// Client that sends the request head, sees the server's FIN (EOF), then sends
// more anyway, and reports what the next call returns.
auto send_after_eof_client = [](uint16_t port) {
  const int fd = connect_to(port);
  if (fd < 0) child_exit(kSetupFailed);
  if (!send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
  char buf[512];
  if (recv(fd, buf, sizeof(buf), 0) != 0) child_exit(kSetupFailed);  // the peer closed
  usleep(20'000);
  if (!send_filler(fd, kRequestHead)) child_exit(errno);
  // The RST comes back at once on loopback, but a loaded VM can delay the softirq that
  // processes it: wait (bounded) for the RST to move the socket from CLOSE_WAIT to CLOSE.
  wait_tcp_state(fd, tcp::kClose);
  // in CLOSE_WAIT an RST leaves EPIPE for the next send(); recv() keeps returning 0
  if (send(fd, "x", 1, MSG_NOSIGNAL) < 0) child_exit(errno);
  child_exit(0);
};

sockaddr_in local_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return a;
}

sockaddr_in peer_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return a;
}

}  // namespace

ScenarioOutcome run_data_after_close() {
  ScenarioOutcome o = outcome("data_after_close",
                              "the server closes; the client keeps sending to the closed socket",
                              Cause::DataAfterClose);
  return run_pair(
      o,
      [](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        // keep the orphan a full FIN_WAIT2 socket (not a TIME_WAIT mini socket)
        const int linger2 = 120;
        setsockopt(fd, IPPROTO_TCP, TCP_LINGER2, &linger2, sizeof(linger2));
        close(fd);
        usleep(300'000);  // stay alive while the client sends
        child_exit(0);
      },
      send_after_eof_client);
}

ScenarioOutcome run_write_after_peer_close() {
  ScenarioOutcome o = outcome("write_after_peer_close",
                              "the server closes normally; the client ignores EOF and writes",
                              Cause::WriteAfterPeerClose);
  return run_pair(
      o,
      [](int fd, int) {
        // A plain close() races the peer's ACK of our FIN: if the ACK is processed while
        // close() still holds the socket lock (loopback, a slow VM), the orphan stays a
        // full FIN_WAIT2 socket and answers the late data with TCP_ABORT_ON_DATA
        // (data_after_close) instead. Closing in FIN_WAIT2 turns it into a TIME_WAIT
        // mini socket inside close() itself, every time.
        read_head_then_half_close(fd);
        close(fd);
        usleep(300'000);
        child_exit(0);
      },
      send_after_eof_client);
}

ScenarioOutcome run_disconnect() {
  ScenarioOutcome o = outcome("disconnect", "the client calls connect(AF_UNSPEC) on its connection",
                              Cause::Disconnect);
  o = run_pair(
      o,
      [](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        read_to_end_and_exit(fd);  // waits for what the client does
      },
      [](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0) child_exit(kSetupFailed);
        if (!send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
        usleep(50'000);
        sockaddr unspec{};
        unspec.sa_family = AF_UNSPEC;
        if (connect(fd, &unspec, sizeof(unspec)) != 0) child_exit(kSetupFailed);
        child_exit(0);
      });
  o.actor_pid = o.client_pid;
  o.actor_comm = o.client_comm;
  return o;
}

ScenarioOutcome run_fin_wait2_abort() {
  ScenarioOutcome o = outcome("fin_wait2_timeout",
                              "the server half-closes, then closes with TCP_LINGER2 = -1 in FIN_WAIT2",
                              Cause::FinWait2Timeout);
  return run_pair(
      o,
      [](int fd, int) {
        read_head_then_half_close(fd);
        const int linger2 = -1;  // do not wait for the peer's FIN at all
        if (setsockopt(fd, IPPROTO_TCP, TCP_LINGER2, &linger2, sizeof(linger2)) != 0) child_exit(kSetupFailed);
        close(fd);
        child_exit(0);
      },
      [](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0) child_exit(kSetupFailed);
        if (!send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
        char buf[64];
        if (recv(fd, buf, sizeof(buf), 0) != 0) child_exit(kSetupFailed);  // server's FIN
        usleep(100'000);
        // an RST in CLOSE_WAIT leaves EPIPE for the next send
        if (send(fd, "x", 1, MSG_NOSIGNAL) < 0) child_exit(errno);
        child_exit(0);
      });
}

ScenarioOutcome run_killed_with_unread() {
  ScenarioOutcome o = outcome("killed_with_unread",
                              "the server is SIGKILLed while holding unread request data",
                              Cause::UnreadDataAtClose);
  o.expected_unread = kUnreadScenarioBytes;
  return run_pair(
      o,
      [](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        if (!wait_unread(fd, static_cast<int>(kUnreadScenarioBytes))) child_exit(kSetupFailed);
        raise(SIGKILL);  // the kernel closes the fds of the dying process
        child_exit(kSetupFailed);
      },
      unread_request_client);
}

ScenarioOutcome run_fork_shared_close() {
  ScenarioOutcome o = outcome("fork_shared_close",
                              "a server accepts and forks; the worker closes with unread data",
                              Cause::UnreadDataAtClose);
  o.expected_unread = kUnreadScenarioBytes;
  int report[2];
  if (pipe(report) != 0) {
    o.error = "pipe";
    return o;
  }
  o = run_pair(
      o,
      [report](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        int parent_done[2];
        if (pipe(parent_done) != 0) child_exit(kSetupFailed);
        const pid_t worker = fork();
        if (worker == 0) {
          child_setup("cr-worker");
          // only after the accepting process let go is this close the last reference
          if (!wait_fd(parent_done[0])) child_exit(kSetupFailed);
          if (!wait_unread(fd, static_cast<int>(kUnreadScenarioBytes))) child_exit(kSetupFailed);
          close(fd);  // sends the RST
          child_exit(0);
        }
        close(fd);  // the accepting process lets go first
        signal_fd(parent_done[1]);
        (void)!write(report[1], &worker, sizeof(worker));
        child_exit(reap(worker) == 0 ? 0 : kSetupFailed);
      },
      unread_request_client);
  close(report[1]);
  pid_t worker = 0;
  if (read(report[0], &worker, sizeof(worker)) == sizeof(worker)) o.actor_pid = worker;
  close(report[0]);
  o.actor_comm = "cr-worker";
  return o;
}

ScenarioOutcome run_fd_passed_close() {
  ScenarioOutcome o = outcome("fd_passed_close",
                              "a server passes the connection over a unix socket; the handler closes it unread",
                              Cause::UnreadDataAtClose);
  o.expected_unread = kUnreadScenarioBytes;
  int unix_pair[2];
  int server_let_go[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, unix_pair) != 0 || pipe(server_let_go) != 0) {
    o.error = "socketpair";
    return o;
  }
  // the handler is not a child of the server: it only ever gets the fd by message
  const pid_t handler = fork();
  if (handler == 0) {
    child_setup("cr-handler");
    close(unix_pair[0]);
    const int fd = recv_fd(unix_pair[1]);
    if (fd < 0) child_exit(kSetupFailed);
    // only once the server closed its copy is this close the last reference
    if (!wait_fd(server_let_go[0])) child_exit(kSetupFailed);
    if (!wait_unread(fd, static_cast<int>(kUnreadScenarioBytes))) child_exit(kSetupFailed);
    close(fd);
    child_exit(0);
  }
  close(unix_pair[1]);
  o = run_pair(
      o,
      [unix_pair, server_let_go](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        if (!send_fd(unix_pair[0], fd)) child_exit(kSetupFailed);
        close(fd);
        signal_fd(server_let_go[1]);
        child_exit(0);
      },
      unread_request_client);
  close(unix_pair[0]);
  close(server_let_go[1]);
  if (reap(handler) != 0 && o.ok()) o.error = "handler failed";
  close(server_let_go[0]);
  o.actor_pid = handler;
  o.actor_comm = "cr-handler";
  return o;
}

ScenarioOutcome run_socket_destroyed() {
  ScenarioOutcome o = outcome("socket_destroyed",
                              "another task destroys the client's socket (SOCK_DESTROY, as ss -K does)",
                              Cause::SocketDestroyed);
  int port_pipe[2];
  if (pipe(port_pipe) != 0) {
    o.error = "pipe";
    return o;
  }
  Listener l = listen_loopback();
  if (l.fd < 0) {
    o.error = "listen";
    return o;
  }
  o.server_port = l.port;
  o.server_comm = "cr-server";
  o.client_comm = "cr-client";
  o.server_pid = fork();
  if (o.server_pid == 0) {
    child_setup("cr-server");
    const int fd = accept(l.fd, nullptr, nullptr);
    if (fd < 0 || !recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
    read_to_end_and_exit(fd);
  }
  close(l.fd);
  o.client_pid = fork();
  if (o.client_pid == 0) {
    child_setup("cr-client");
    const int fd = connect_to(l.port);
    if (fd < 0 || !send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
    const sockaddr_in me = local_of(fd);
    (void)!write(port_pipe[1], &me, sizeof(me));
    read_to_end_and_exit(fd);
  }
  close(port_pipe[1]);
  sockaddr_in client_addr{};
  const bool got = read(port_pipe[0], &client_addr, sizeof(client_addr)) == sizeof(client_addr);
  close(port_pipe[0]);
  o.actor_comm = "cr-killer";
  o.actor_pid = fork();
  if (o.actor_pid == 0) {
    child_setup("cr-killer");
    if (!got) child_exit(kSetupFailed);
    usleep(50'000);  // the server is blocked in recv() by now
    const std::string err = destroy_socket(client_addr, loopback(l.port));
    child_exit(err.empty() ? 0 : kSetupFailed);
  }
  const int killer = reap(o.actor_pid);
  o.client_result = result_of(reap(o.client_pid));
  o.server_result = result_of(reap(o.server_pid));
  if (killer != 0) o.error = "SOCK_DESTROY failed (CONFIG_INET_DIAG_DESTROY?)";
  return o;
}

ScenarioOutcome run_unknown_connection() {
  ScenarioOutcome o = outcome("unknown_connection",
                              "the server loses the connection silently (TCP_REPAIR close); the client sends again",
                              Cause::UnknownConnection);
  int gone[2];
  if (pipe(gone) != 0) {
    o.error = "pipe";
    return o;
  }
  o = run_pair(
      o,
      [gone](int fd, int listener) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        uint32_t seq = 0;
        // a restarted peer: its socket and listener vanish without FIN or RST
        if (!enter_repair_and_get_snd_nxt(fd, &seq)) child_exit(kSetupFailed);
        close(fd);
        close(listener);
        signal_fd(gone[1]);
        child_exit(0);
      },
      [gone](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0 || !send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
        if (!wait_fd(gone[0])) child_exit(kSetupFailed);
        if (!send_filler(fd, kRequestHead)) child_exit(errno);
        usleep(50'000);
        read_to_end_and_exit(fd);
      });
  close(gone[0]);
  close(gone[1]);
  return o;
}

ScenarioOutcome run_remote_injected_reset() {
  // inferred from the client's socket alone (no local sender); a probe that sees the bare
  // segment says unknown_connection instead (tests/e2e/causes_test.cpp)
  ScenarioOutcome o = outcome("forged_reset",
                              "an RST forged on the wire (as a middlebox would send) reaches the client",
                              Cause::PeerAborted);
  return run_pair(
      o,
      [](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        uint32_t seq = 0;
        const sockaddr_in me = local_of(fd), client = peer_of(fd);
        if (!enter_repair_and_get_snd_nxt(fd, &seq)) child_exit(kSetupFailed);
        close(fd);  // silent: from here on only the forged RST speaks for "the server"
        const std::string err = send_raw_segment(me, client, seq, 0, TH_RST);
        child_exit(err.empty() ? 0 : kSetupFailed);
      },
      plain_client);
}

ScenarioOutcome run_protocol_violation() {
  ScenarioOutcome o = outcome("protocol_violation",
                              "a bare ACK (no connection behind it) is sent to a listening port",
                              Cause::ProtocolViolation);
  o = run_pair(
      o,
      [](int fd, int listener) {
        // an ACK for a connection the listener never saw, from a port nobody uses
        sockaddr_in me = local_of(listener), from = loopback(1);
        (void)fd;
        const std::string err = send_raw_segment(from, me, 12345, 67890, TH_ACK);
        usleep(100'000);
        child_exit(err.empty() ? 0 : kSetupFailed);
      },
      [](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0) child_exit(kSetupFailed);
        usleep(150'000);
        child_exit(0);
      });
  o.client_comm = "";  // the forged segment's "client" is no process
  return o;
}

ScenarioOutcome run_recv_loop_after_end() {
  ScenarioOutcome o = outcome("recv_loop_after_end",
                              "a client loop ignores recv()'s return value and spins after EOF", std::nullopt);
  return run_pair(
      o,
      [](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        if (!send_all(fd, kResponse, sizeof(kResponse) - 1)) child_exit(kSetupFailed);
        close(fd);
        child_exit(0);
      },
      [](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0 || !send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
        char buf[512];
        ssize_t n = 0;
        for (int i = 0; i < 300; ++i) n = recv(fd, buf, sizeof(buf), 0);  // the bug
        close(fd);
        child_exit(n == 0 ? 0 : kSetupFailed);
      });
}

ScenarioOutcome run_ignored_reset() {
  ScenarioOutcome o = outcome("ignored_reset",
                              "a client keeps calling recv() after it returned ECONNRESET",
                              Cause::UnreadDataAtClose);
  o.expected_unread = kUnreadScenarioBytes;
  return run_pair(
      o,
      [](int fd, int) {
        if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
        if (!wait_unread(fd, static_cast<int>(kUnreadScenarioBytes))) child_exit(kSetupFailed);
        close(fd);
        child_exit(0);
      },
      [](uint16_t port) {
        const int fd = connect_to(port);
        if (fd < 0 || !send_filler(fd, kRequestHead + kUnreadScenarioBytes)) child_exit(kSetupFailed);
        char buf[512];
        int first_error = 0;
        for (int i = 0; i < 300; ++i) {
          if (recv(fd, buf, sizeof(buf), 0) < 0 && !first_error) first_error = errno;
        }
        close(fd);
        child_exit(first_error);
      });
}

namespace {

// Sends until data waits unsent behind a full receive window of a peer that reads nothing
// (nothing in flight, bytes unsent). A FIN that close() queues then cannot leave, so no ACK
// or FIN from the peer can move the socket past FIN_WAIT1 before close() checks the orphan
// limit: an ACK of the FIN taken from the backlog inside close() makes it FIN_WAIT2 and
// then TIME_WAIT, a clean close that never reaches tcp_check_oom(). Runs in a child.
bool fill_peer_window(int fd) {
  static char chunk[65536];
  for (int round = 0; round < 5000; ++round) {
    while (send(fd, chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    usleep(1000);
    tcp_info info{};
    socklen_t len = sizeof(info);
    int unsent = 0;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
    if (ioctl(fd, SIOCOUTQNSD, &unsent) != 0) return false;
    if (info.tcpi_unacked == 0 && unsent > 0) return true;
  }
  return false;
}

int tcp_state_of(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
  return info.tcpi_state;
}

// The kernel reads the orphan count it compares with tcp_max_orphans from a cache: on
// 5.14+ tcp_orphan_cache, refreshed by a DEFERRABLE 100 ms timer (it waits while its CPU
// idles, so no fixed sleep is enough); 5.10 reads the per-cpu counter's approximate total
// first. Nothing shows that cache, but a close shows what it holds: close connections of
// our own until the kernel resets one for memory. From then on the cache holds >= 1 for as
// long as the long-lived orphan exists, so the scenario's close is checked against a limit
// the kernel is known to apply. Returns the number of canaries closed, 0 when none was
// reset; the clean ones' peers go to `clean_peers` (closed later).
int close_canaries_until_reset(std::vector<int>& clean_peers) {
  Listener l = listen_loopback();
  if (l.fd < 0) return 0;
  int tries = 0;
  while (tries < 100) {
    const int peer = connect_to(l.port);
    if (peer < 0) break;
    const int canary = accept(l.fd, nullptr, nullptr);
    if (canary < 0) {
      close(peer);
      break;
    }
    ++tries;
    close(canary);
    // close() sends the FIN before it checks the limit, so a reset canary's peer gets FIN
    // then RST: recv() says EOF either way; the state tells (CLOSE_WAIT, or CLOSE after the RST)
    for (int ms = 0; ms < 1000 && tcp_state_of(peer) == tcp::kEstablished; ++ms) usleep(1000);
    for (int ms = 0; ms < 100 && tcp_state_of(peer) == tcp::kCloseWait; ++ms) usleep(1000);
    if (tcp_state_of(peer) == tcp::kClose) {
      close(peer);
      close(l.fd);
      return tries;
    }
    clean_peers.push_back(peer);  // closed only after the limit is restored: no reset of its own
    usleep(20'000);
  }
  close(l.fd);
  return 0;
}

}  // namespace

ScenarioOutcome run_orphan_memory_pressure(const std::function<void()>& limit_orphans,
                                           const std::function<void()>& restore) {
  ScenarioOutcome o = outcome("orphan_memory_pressure",
                              "with net.ipv4.tcp_max_orphans = 0, a clean close becomes an RST",
                              Cause::OrphanMemoryPressure);
  // tcp_too_many_orphans() compares the orphan count with the limit: first leave one
  // long-lived orphan (FIN_WAIT2, TCP_LINGER2 120 s).
  int holder_done[2];
  if (pipe(holder_done) != 0) {
    o.error = "pipe";
    return o;
  }
  Listener l = listen_loopback();
  const pid_t orphaner = fork();
  if (orphaner == 0) {
    child_setup("cr-orphaner");
    const int fd = accept(l.fd, nullptr, nullptr);
    // Half-close and wait for the peer's ACK first: closed in FIN_WAIT2 the orphan has no
    // FIN left to retransmit, so no retransmission timer can check it against the limit
    // (tcp_out_of_resources) and kill it once the limit is 0.
    if (shutdown(fd, SHUT_WR) != 0 || !wait_tcp_state(fd, tcp::kFinWait2)) child_exit(kSetupFailed);
    const int linger2 = 120;
    if (setsockopt(fd, IPPROTO_TCP, TCP_LINGER2, &linger2, sizeof(linger2)) != 0) child_exit(kSetupFailed);
    close(fd);
    child_exit(0);
  }
  const pid_t holder = fork();
  if (holder == 0) {
    child_setup("cr-holder");
    const int fd = connect_to(l.port);  // never closes until told: the peer stays an orphan
    (void)fd;
    wait_fd(holder_done[0]);
    child_exit(0);
  }
  close(l.fd);
  const int orphaner_code = reap(orphaner);
  std::vector<int> canary_peers;
  int canaries = 0;
  if (orphaner_code == 0) {
    limit_orphans();
    canaries = close_canaries_until_reset(canary_peers);
  }
  if (orphaner_code != 0) {
    o.error = "the long-lived orphan: " + result_of(orphaner_code);
  } else if (canaries == 0) {
    o.error = "the kernel reset none of " + std::to_string(canary_peers.size()) +
              " canary closes for orphan memory: it does not apply tcp_max_orphans = 0";
  } else {
    o = run_pair(
        o,
        [](int fd, int) {
          if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
          if (!fill_peer_window(fd)) child_exit(kSetupFailed);
          close(fd);  // no unread data, no linger: a clean close, in FIN_WAIT1
          child_exit(0);
        },
        [](uint16_t port) {
          const int fd = connect_to(port);
          if (fd < 0 || !send_filler(fd, kRequestHead)) child_exit(kSetupFailed);
          // reads nothing (the server's data fills the window) and never closes first: the
          // server's RST ends the connection; closing a reset socket sends nothing
          if (!wait_tcp_state(fd, tcp::kClose)) child_exit(ETIMEDOUT);
          int err = 0;
          socklen_t len = sizeof(err);
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          child_exit(err);
        });
  }
  restore();
  for (const int fd : canary_peers) close(fd);
  signal_fd(holder_done[1]);
  reap(holder);
  close(holder_done[0]);
  close(holder_done[1]);
  o.notes = "canary closes until the kernel applied the limit: " + std::to_string(canaries);
  return o;
}

}  // namespace connreset
