#include "scenarios/topology.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include <memory>

namespace connreset::kit {
namespace {

struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
using Sock = std::unique_ptr<nl_sock, SockDeleter>;
using Link = std::unique_ptr<rtnl_link, LinkDeleter>;

Sock route_socket(std::string* err) {
  Sock s(nl_socket_alloc());
  if (!s || nl_connect(s.get(), NETLINK_ROUTE) < 0) {
    *err = "cannot open a rtnetlink socket";
    return nullptr;
  }
  return s;
}

std::string set_up(nl_sock* sock, const char* ifname) {
  rtnl_link* raw = nullptr;
  if (int e = rtnl_link_get_kernel(sock, 0, ifname, &raw); e < 0) {
    return std::string("no link ") + ifname + ": " + nl_geterror(e);
  }
  Link link(raw), change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int e = rtnl_link_change(sock, link.get(), change.get(), 0); e < 0) {
    return std::string("cannot bring ") + ifname + " up: " + nl_geterror(e);
  }
  return "";
}

}  // namespace

std::string veth_between(pid_t a, pid_t b) {
  std::string err;
  Sock sock = route_socket(&err);
  if (!sock) return err;
  Link veth(rtnl_link_veth_alloc());
  if (!veth) return "cannot allocate a veth link";
  rtnl_link* peer = rtnl_link_veth_get_peer(veth.get());
  rtnl_link_set_name(veth.get(), kHostAIf);
  rtnl_link_set_ns_pid(veth.get(), a);
  rtnl_link_set_name(peer, kHostBIf);
  rtnl_link_set_ns_pid(peer, b);
  const int e = rtnl_link_add(sock.get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(peer);
  return e < 0 ? std::string("cannot create the veth pair: ") + nl_geterror(e) : "";
}

std::string veth_configure(const char* ifname, const char* address) {
  std::string err;
  Sock sock = route_socket(&err);
  if (!sock) return err;
  if (std::string e = set_up(sock.get(), "lo"); !e.empty()) return e;
  if (std::string e = set_up(sock.get(), ifname); !e.empty()) return e;
  const int ifindex = static_cast<int>(if_nametoindex(ifname));  // in this namespace
  nl_addr* local = nullptr;
  const std::string cidr = std::string(address) + "/24";
  if (nl_addr_parse(cidr.c_str(), AF_INET, &local) < 0) return "bad address " + cidr;
  rtnl_addr* addr = rtnl_addr_alloc();
  rtnl_addr_set_ifindex(addr, ifindex);
  rtnl_addr_set_local(addr, local);
  const int e = rtnl_addr_add(sock.get(), addr, 0);
  rtnl_addr_put(addr);
  nl_addr_put(local);
  return e < 0 ? std::string("cannot add ") + cidr + ": " + nl_geterror(e) : "";
}

}  // namespace connreset::kit
