#include "common/endpoint.h"

#include <arpa/inet.h>
#include <sys/socket.h>

namespace connreset {

std::string Endpoint::address() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family != AF_INET && family != AF_INET6) return "";
  if (!inet_ntop(family, addr.data(), buf, sizeof(buf))) return "";
  return buf;
}

std::string Endpoint::str() const {
  if (family == AF_INET6) return "[" + address() + "]:" + std::to_string(port);
  if (family == AF_INET) return address() + ":" + std::to_string(port);
  return "?:" + std::to_string(port);
}

Endpoint Endpoint::ipv4(uint32_t host_order_addr, uint16_t p) {
  Endpoint e;
  e.family = AF_INET;
  const uint32_t net = htonl(host_order_addr);
  std::copy_n(reinterpret_cast<const uint8_t*>(&net), 4, e.addr.begin());
  e.port = p;
  return e;
}

size_t EndpointHash::operator()(const Endpoint& e) const noexcept {
  size_t h = std::hash<uint16_t>{}(e.port) ^ (static_cast<size_t>(e.family) << 20);
  for (uint8_t b : e.addr) h = h * 131 + b;
  return h;
}

}  // namespace connreset
