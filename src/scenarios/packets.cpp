#include "scenarios/packets.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace connreset::kit {

std::string destroy_socket(const sockaddr_in& local, const sockaddr_in& remote) {
  const int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return std::string("netlink socket: ") + std::strerror(errno);
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DESTROY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  msg.req.sdiag_family = AF_INET;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0U;
  msg.req.id.idiag_sport = local.sin_port;
  msg.req.id.idiag_dport = remote.sin_port;
  msg.req.id.idiag_src[0] = local.sin_addr.s_addr;
  msg.req.id.idiag_dst[0] = remote.sin_addr.s_addr;
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl, &msg, sizeof(msg), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) {
    const int err = errno;
    close(nl);
    return std::string("netlink send: ") + std::strerror(err);
  }
  char buf[512];
  const ssize_t n = recv(nl, buf, sizeof(buf), 0);
  close(nl);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(nlmsgerr))) return "short netlink answer";
  const auto* err = reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(reinterpret_cast<nlmsghdr*>(buf)));
  return err->error == 0 ? "" : std::string("SOCK_DESTROY: ") + std::strerror(-err->error);
}

namespace {

uint16_t checksum(const void* data, size_t len, uint32_t sum) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

std::string send_raw_segment(const sockaddr_in& from, const sockaddr_in& to, uint32_t seq,
                             uint32_t ack, uint8_t flags) {
  const int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return std::string("raw socket: ") + std::strerror(errno);
  // the kernel builds the IP header; bind so it uses the forged source address
  sockaddr_in src = from;
  src.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
    const int err = errno;
    close(fd);
    return std::string("raw bind: ") + std::strerror(err);
  }
  tcphdr th{};
  th.th_sport = from.sin_port;
  th.th_dport = to.sin_port;
  th.th_seq = htonl(seq);
  th.th_ack = htonl(ack);
  th.th_off = sizeof(th) / 4;
  th.th_flags = flags;
  th.th_win = htons(1024);
  // checksum over the pseudo header (addresses, protocol, length) and the segment
  struct {
    uint32_t src, dst;
    uint8_t zero, proto;
    uint16_t len;
  } pseudo{from.sin_addr.s_addr, to.sin_addr.s_addr, 0, IPPROTO_TCP, htons(sizeof(th))};
  uint8_t buf[sizeof(pseudo) + sizeof(th)];
  std::memcpy(buf, &pseudo, sizeof(pseudo));
  std::memcpy(buf + sizeof(pseudo), &th, sizeof(th));
  th.th_sum = htons(checksum(buf, sizeof(buf), 0));
  sockaddr_in dst = to;
  dst.sin_port = 0;
  const ssize_t n = sendto(fd, &th, sizeof(th), 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
  const int err = errno;
  close(fd);
  return n == static_cast<ssize_t>(sizeof(th)) ? "" : std::string("raw send: ") + std::strerror(err);
}

bool enter_repair_and_get_snd_nxt(int fd, uint32_t* snd_nxt) {
  int on = 1;
  int queue = TCP_SEND_QUEUE;
  socklen_t len = sizeof(*snd_nxt);
  return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) == 0 &&
         setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) == 0 &&
         getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, snd_nxt, &len) == 0;
}

}  // namespace connreset::kit
