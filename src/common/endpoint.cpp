#include "common/endpoint.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

namespace connreset {

namespace {
void append_decimal(std::string& out, unsigned v) {
  char d[10];
  int n = 0;
  do {
    d[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) out += d[--n];
}
}  // namespace

// IPv4 by hand (what inet_ntop prints, without its call and a string per part:
// a report prints millions of addresses); IPv6 through inet_ntop.
char* Endpoint::put_address(char* p) const {
  static_assert(kAddressMax >= INET6_ADDRSTRLEN);
  if (family == AF_INET) {
    for (size_t i = 0; i < 4; ++i) {
      if (i) *p++ = '.';
      const unsigned v = addr[i];
      if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
      if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
      *p++ = static_cast<char>('0' + v % 10);
    }
    return p;
  }
  if (family != AF_INET6 || !inet_ntop(family, addr.data(), p, INET6_ADDRSTRLEN)) return p;
  return p + std::strlen(p);
}

void Endpoint::append_address(std::string& out) const {
  char buf[kAddressMax];
  out.append(buf, put_address(buf));
}

void Endpoint::append_str(std::string& out) const {
  if (family == AF_INET6) {
    out += '[';
    append_address(out);
    out += ']';
  } else if (family == AF_INET) {
    append_address(out);
  } else {
    out += '?';
  }
  out += ':';
  append_decimal(out, port);
}

std::string Endpoint::address() const {
  std::string s;
  append_address(s);
  return s;
}

std::string Endpoint::str() const {
  std::string s;
  append_str(s);
  return s;
}

Endpoint Endpoint::ipv4(uint32_t host_order_addr, uint16_t p) {
  Endpoint e;
  e.family = AF_INET;
  const uint32_t net = htonl(host_order_addr);
  std::copy_n(reinterpret_cast<const uint8_t*>(&net), 4, e.addr.begin());
  e.port = p;
  return e;
}

// The address as two 8-byte words and the port, mixed by two multiplies: a loop over the 16
// address bytes was ~4% of trace's CPU in a reset storm (the correlator's pending-case indexes
// hash each case's tuple several times; issue #14).
size_t EndpointHash::operator()(const Endpoint& e) const noexcept {
  uint64_t lo = 0;
  uint64_t hi = 0;
  std::memcpy(&lo, e.addr.data(), sizeof lo);
  std::memcpy(&hi, e.addr.data() + sizeof lo, sizeof hi);
  uint64_t h = (lo ^ (uint64_t{e.port} | uint64_t{e.family} << 16)) * 0x9E3779B97F4A7C15ull;
  h = (h ^ hi) * 0xC2B2AE3D27D4EB4Full;
  return static_cast<size_t>(h ^ (h >> 32));
}

}  // namespace connreset
