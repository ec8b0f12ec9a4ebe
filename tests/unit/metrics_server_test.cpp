// The metrics endpoint under abusive clients: slow senders and thousands of
// idle connections must not delay a scrape.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "metrics/http_server.h"

namespace connreset {
namespace {

uint16_t port_of(const metrics::HttpServer& s) {
  const std::string b = s.bound_address();
  return static_cast<uint16_t>(std::stoi(b.substr(b.rfind(':') + 1)));
}

int connect_to(uint16_t port) {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(s);
    return -1;
  }
  return s;
}

std::string scrape(uint16_t port) {
  const int s = connect_to(port);
  if (s < 0) return "";
  timeval tv{10, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const std::string get = "GET /metrics HTTP/1.0\r\n\r\n";
  std::string out;
  if (send(s, get.data(), get.size(), 0) == static_cast<ssize_t>(get.size())) {
    char buf[1024];
    ssize_t n;
    while ((n = recv(s, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(s);
  return out;
}

TEST(MetricsServerAbuse, PortOutOfRange_RefusedInsteadOfWrapping) {
  for (const char* bad : {"70000", "127.0.0.1:65536", "-1", "0x50", ":", "127.0.0.1:"}) {
    try {
      metrics::HttpServer s(bad, [] { return std::string(); });
      ADD_FAILURE() << bad << " accepted, bound " << s.bound_address();
    } catch (const metrics::ServerError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(MetricsServerAbuse, SlowAndIdleClients_DoNotDelayAScrape) {
  // the test holds both ends of every connection in this one process
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 16384);
  setrlimit(RLIMIT_NOFILE, &lim);
  const int idle_wanted = static_cast<int>(std::min<rlim_t>(3000, lim.rlim_cur / 2 - 100));
  ASSERT_GE(idle_wanted, 1000) << "RLIMIT_NOFILE too low for this test";

  metrics::HttpServer server("0", [] { return std::string("up 1\n"); });
  const uint16_t port = port_of(server);
  std::vector<int> fds;
  // 20 slow clients: each sends a request a byte at a time, never finishing
  for (int i = 0; i < 20; ++i) {
    const int s = connect_to(port);
    ASSERT_GE(s, 0);
    ASSERT_EQ(send(s, "GE", 2, 0), 2);
    fds.push_back(s);
  }
  // thousands of connections that say nothing
  for (int i = 0; i < idle_wanted; ++i) {
    const int s = connect_to(port);
    if (s < 0) break;
    fds.push_back(s);
  }
  EXPECT_GE(fds.size(), 1000u);
  for (int round = 0; round < 3; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string got = scrape(port);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(got.rfind("HTTP/1.0 200 OK", 0), 0u) << "round " << round << ": " << got;
    EXPECT_LT(ms, 1000) << "round " << round << ": a scrape waited for other clients";
    for (size_t i = 0; i < 20; ++i) (void)send(fds[i], "T", 1, MSG_NOSIGNAL);  // the slow ones trickle on
  }
  for (const int fd : fds) close(fd);
}

}  // namespace
}  // namespace connreset
