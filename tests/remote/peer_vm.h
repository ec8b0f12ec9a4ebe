#pragma once
// A second host for the remote-peer tests: a qemu guest booting a Debian
// kernel (scripts/vm), running tests/peer/peer.c, on a tap device in this
// process's private network namespace. Booted once for the whole binary.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace connreset::remote {

inline constexpr const char* kTap = "crpeer0";
inline constexpr const char* kHostV4 = "10.253.0.1";
inline constexpr const char* kPeerV4 = "10.253.0.2";
inline constexpr const char* kHostV6 = "fd00:c0de::1";
inline constexpr const char* kPeerV6 = "fd00:c0de::2";
inline constexpr uint16_t kControlPort = 7000;

// Make sure the kernel is cached and qemu installed; call before leaving the host's
// network namespace (downloads need the network). "" or what failed.
std::string fetch_kernel(const std::string& series);

class PeerVm {
 public:
  // Creates the tap with both address families, boots the guest, waits for its
  // control port. "" on success, else what failed (see log_path()).
  std::string start(const std::string& series);
  // "quit" over the control connection, then waits for qemu; kills it if it hangs.
  void stop();
  // "serve PORT MODE ARG": "" once the peer listens, else its error.
  std::string serve(uint16_t port, const std::string& mode, long arg = 0);
  const std::string& log_path() const { return log_; }
  double boot_seconds() const { return boot_s_; }
  std::string tail_of_log() const;

 private:
  std::string command(const std::string& line);
  int ctl_ = -1;
  pid_t vm_pid_ = -1;
  std::string log_;
  double boot_s_ = 0;
};

// One TCP segment with RST seen on the tap (a packet socket: what really crossed the wire).
struct WireRst {
  std::string src, dst;  // addresses
  uint16_t sport = 0, dport = 0;
  uint8_t flags = 0;
};

class WireCapture {
 public:
  std::string start(const char* ifname);  // "" or why not
  void stop();
  // RSTs between the peer's port and us, waiting up to `wait` for the first one
  std::vector<WireRst> rsts_on_port(uint16_t peer_port, std::chrono::milliseconds wait);

 private:
  void loop();
  int fd_ = -1;
  bool stop_ = false;
  std::thread thread_;
  std::mutex mu_;
  std::vector<WireRst> seen_;
};

PeerVm& peer();
WireCapture& wire();

}  // namespace connreset::remote
