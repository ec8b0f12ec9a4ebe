#include "common/endpoint.h"

#include <gtest/gtest.h>

#include <unordered_set>

namespace connreset {
namespace {

// The correlator's pending-case indexes hash (local, remote) tuples of one host: on loopback
// the address is the same for all and only the port differs. Every port must land apart,
// in the low bits too (unordered_map takes the hash modulo its bucket count).
TEST(EndpointHash, LoopbackPortsSpreadOverTheLowBits) {
  const EndpointHash hash;
  std::unordered_set<size_t> full;
  std::unordered_set<size_t> low;
  for (uint32_t port = 1; port <= 65535; ++port) {
    const size_t h = hash(Endpoint::ipv4(0x7f000001, static_cast<uint16_t>(port)));
    full.insert(h);
    low.insert(h & 0xffff);
  }
  EXPECT_EQ(full.size(), 65535u);
  EXPECT_GT(low.size(), 40'000u) << "ports crowd into few buckets";
}

TEST(EndpointHash, EveryAddressByteAndTheFamilyCount) {
  const EndpointHash hash;
  Endpoint base;
  base.family = 10;  // AF_INET6
  base.port = 443;
  const size_t h0 = hash(base);
  for (size_t i = 0; i < base.addr.size(); ++i) {
    Endpoint e = base;
    e.addr[i] = 1;
    EXPECT_NE(hash(e), h0) << "address byte " << i << " ignored";
  }
  Endpoint v4 = base;
  v4.family = 2;
  EXPECT_NE(hash(v4), h0);
  EXPECT_EQ(hash(base), h0);
}

}  // namespace
}  // namespace connreset
