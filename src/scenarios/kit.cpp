#include "scenarios/kit.h"

#include <netinet/tcp.h>
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
#include "decode/event.h"

namespace connreset::kit {

void child_exit(int code) { _exit(code); }

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

void read_to_end_and_exit(int fd) {
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

bool wait_tcp_state(int fd, uint8_t state) {
  for (int i = 0; i < 5000; ++i) {
    tcp_info info{};
    socklen_t len = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
    if (info.tcpi_state == state) return true;
    usleep(1000);
  }
  return false;
}

void read_head_then_half_close(int fd) {
  if (!recv_exactly(fd, kRequestHead)) child_exit(kSetupFailed);
  if (shutdown(fd, SHUT_WR) != 0) child_exit(kSetupFailed);
  if (!wait_tcp_state(fd, tcp::kFinWait2)) child_exit(kSetupFailed);
}

int connect_to(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in a = loopback(port);
  if (fd < 0) return -errno;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    const int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

void unread_request_client(uint16_t port) {
  const int fd = connect_to(port);
  if (fd < 0) child_exit(kSetupFailed);
  if (!send_filler(fd, kRequestHead + kUnreadScenarioBytes)) child_exit(kSetupFailed);
  read_to_end_and_exit(fd);
}

bool send_fd(int unix_sock, int fd) {
  char byte = 'f';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(fd));
  return sendmsg(unix_sock, &msg, 0) == 1;
}

int recv_fd(int unix_sock) {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (recvmsg(unix_sock, &msg, 0) != 1 || !CMSG_FIRSTHDR(&msg)) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(fd));
  return fd;
}

void signal_fd(int fd) {
  const char go = 'g';
  (void)!write(fd, &go, 1);
}

bool wait_fd(int fd) {
  char c = 0;
  return read(fd, &c, 1) == 1;
}

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

ScenarioOutcome outcome(const char* name, const char* title, std::optional<Cause> cause) {
  ScenarioOutcome o;
  o.name = name;
  o.title = title;
  o.expected_cause = cause;
  return o;
}

}  // namespace connreset::kit
