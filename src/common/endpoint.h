#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>

namespace connreset {

// One end of a TCP connection. family is AF_INET or AF_INET6 (0: unknown).
struct Endpoint {
  uint8_t family = 0;
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;

  bool operator==(const Endpoint&) const = default;
  std::string address() const;  // "127.0.0.1", "::1"; "" if unknown
  std::string str() const;       // "127.0.0.1:80", "[::1]:80"
  void append_address(std::string& out) const;  // address() and str(), appended to out
  // address() written at p, which must have kAddressMax bytes of room; returns the end
  static constexpr size_t kAddressMax = 48;
  char* put_address(char* p) const;
  void append_str(std::string& out) const;
  static Endpoint ipv4(uint32_t host_order_addr, uint16_t port);
};

struct EndpointHash {
  size_t operator()(const Endpoint& e) const noexcept;
};

}  // namespace connreset
