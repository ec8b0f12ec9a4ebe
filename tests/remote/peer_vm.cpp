#include "remote/peer_vm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace connreset::remote {
namespace {

using Clock = std::chrono::steady_clock;

int run_shell(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int connect_control(int timeout_ms) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(kControlPort);
  inet_pton(AF_INET, kPeerV4, &sa.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof(err);
  if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace

std::string fetch_kernel(const std::string& series) {
  const std::string script = std::string(CONNRESET_SOURCE_DIR) + "/scripts/vm/fetch-kernel.sh";
  if (run_shell(shell_quote(script) + " " + series + " >&2") != 0) return script + " " + series + " failed";
  return "";
}

std::string PeerVm::start(const std::string& series) {
  // the tap lives in this process's network namespace (private, see main): test traffic
  // never leaves it, and it disappears with the namespace
  const std::string tap = kTap;
  const std::string setup = "ip tuntap add dev " + tap + " mode tap && ip link set " + tap + " up && ip addr add " +
                            kHostV4 + "/24 dev " + tap + " && ip -6 addr add " + kHostV6 + "/64 dev " + tap +
                            " nodad";
  if (run_shell(setup) != 0) return "cannot set up tap " + tap + ": " + setup;

  char tmpl[] = "/tmp/connreset-peer-XXXXXX";
  const int lfd = mkstemp(tmpl);
  if (lfd < 0) return std::string("mkstemp: ") + std::strerror(errno);
  log_ = tmpl;
  const auto t0 = Clock::now();
  vm_pid_ = fork();
  if (vm_pid_ < 0) return std::string("fork: ") + std::strerror(errno);
  if (vm_pid_ == 0) {
    dup2(lfd, 1);
    dup2(lfd, 2);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    setpgid(0, 0);  // Ctrl-C of the test reaches qemu through run-in-vm.sh's trap, not directly
    const std::string src = CONNRESET_SOURCE_DIR;
    setenv("CONNRESET_VM_NET", kTap, 1);
    setenv("CONNRESET_VM_MODULES", "virtio_net", 1);  // + failover, net_failover (modules.dep)
    setenv("CONNRESET_VM_TOOLS", "ip", 1);            // iproute2: `ip -6 addr add ... nodad`
    setenv("CONNRESET_VM_EXTRA", CONNRESET_PEER_BINARY, 1);
    setenv("CONNRESET_VM_MEM", "512M", 1);
    setenv("CONNRESET_VM_SMP", "1", 1);
    setenv("CONNRESET_VM_TIMEOUT", "1200", 1);
    const std::string env = std::string("PEER_BIN=") + CONNRESET_PEER_BINARY + " PEER_V4=" + kPeerV4 +
                            "/24 PEER_V6=" + kPeerV6 + "/64 PEER_PORT=" + std::to_string(kControlPort);
    setenv("CONNRESET_VM_ENV", env.c_str(), 1);
    const std::string runner = src + "/scripts/vm/run-in-vm.sh";
    const std::string guest = src + "/tests/peer/guest.sh";
    execl(runner.c_str(), runner.c_str(), series.c_str(), "--", guest.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(lfd);
  // TCG boots in seconds on an idle machine; a loaded CI machine can take minutes
  const auto deadline = t0 + std::chrono::seconds(420);
  while (Clock::now() < deadline) {
    int st = 0;
    if (waitpid(vm_pid_, &st, WNOHANG) == vm_pid_) {
      vm_pid_ = -1;
      return "the peer VM ended before its control port answered; log " + log_ + ":\n" + tail_of_log();
    }
    ctl_ = connect_control(1000);
    if (ctl_ >= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (ctl_ < 0) return "the peer's control port did not answer within 420 s; log " + log_ + ":\n" + tail_of_log();
  boot_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
  timeval tv{30, 0};
  setsockopt(ctl_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return "";
}

std::string PeerVm::tail_of_log() const {
  std::ifstream in(log_);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::string out;
  for (size_t i = lines.size() > 30 ? lines.size() - 30 : 0; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

std::string PeerVm::command(const std::string& line) {
  if (ctl_ < 0) return "ERR no control connection";
  const std::string msg = line + "\n";
  if (send(ctl_, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
    return std::string("ERR send: ") + std::strerror(errno);
  }
  std::string reply;
  char c;
  while (recv(ctl_, &c, 1, 0) == 1 && c != '\n') reply += c;
  return reply;
}

std::string PeerVm::serve(uint16_t port, const std::string& mode, long arg) {
  const std::string reply = command("serve " + std::to_string(port) + " " + mode + " " + std::to_string(arg));
  return reply.rfind("OK", 0) == 0 ? "" : "peer: " + reply;
}

void PeerVm::stop() {
  if (ctl_ >= 0) {
    command("quit");
    close(ctl_);
    ctl_ = -1;
  }
  if (vm_pid_ <= 0) return;
  // the guest powers off once the peer program exits
  for (int i = 0; i < 200; ++i) {
    int st = 0;
    if (waitpid(vm_pid_, &st, WNOHANG) == vm_pid_) {
      vm_pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(vm_pid_, SIGTERM);  // run-in-vm.sh's trap stops qemu
  int st = 0;
  waitpid(vm_pid_, &st, 0);
  vm_pid_ = -1;
}

// ---- the wire ----------------------------------------------------------------

std::string WireCapture::start(const char* ifname) {
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd_ < 0) return std::string("packet socket: ") + std::strerror(errno);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(if_nametoindex(ifname));
  if (sll.sll_ifindex == 0 || bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) {
    return std::string("bind packet socket to ") + ifname + ": " + std::strerror(errno);
  }
  thread_ = std::thread([this] { loop(); });
  return "";
}

void WireCapture::loop() {
  unsigned char buf[2048];
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 100) != 1) continue;
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 14 + 20) continue;
    const unsigned char* ip = buf + 14;
    const size_t len = static_cast<size_t>(n) - 14;
    const uint16_t ethertype = static_cast<uint16_t>(buf[12] << 8 | buf[13]);
    WireRst w;
    const unsigned char* tcp = nullptr;
    char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    if (ethertype == ETH_P_IP && (ip[0] >> 4) == 4 && ip[9] == IPPROTO_TCP) {
      const size_t ihl = static_cast<size_t>(ip[0] & 0xf) * 4;
      if (len < ihl + 20) continue;
      tcp = ip + ihl;
      inet_ntop(AF_INET, ip + 12, a, sizeof(a));
      inet_ntop(AF_INET, ip + 16, b, sizeof(b));
    } else if (ethertype == ETH_P_IPV6 && ip[6] == IPPROTO_TCP && len >= 40 + 20) {
      tcp = ip + 40;
      inet_ntop(AF_INET6, ip + 8, a, sizeof(a));
      inet_ntop(AF_INET6, ip + 24, b, sizeof(b));
    } else {
      continue;
    }
    w.flags = tcp[13];
    if (!(w.flags & 0x04)) continue;  // RST only
    w.src = a;
    w.dst = b;
    w.sport = static_cast<uint16_t>(tcp[0] << 8 | tcp[1]);
    w.dport = static_cast<uint16_t>(tcp[2] << 8 | tcp[3]);
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(w);
  }
}

void WireCapture::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

std::vector<WireRst> WireCapture::rsts_on_port(uint16_t port, std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  for (;;) {
    std::vector<WireRst> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const WireRst& w : seen_) {
        if (w.sport == port || w.dport == port) out.push_back(w);
      }
    }
    if (!out.empty() || Clock::now() >= deadline) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

PeerVm& peer() {
  static PeerVm vm;
  return vm;
}

WireCapture& wire() {
  static WireCapture w;
  return w;
}

}  // namespace connreset::remote
