#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "metrics/http_server.h"
#include "metrics/registry.h"

namespace connreset {
namespace {

using metrics::Registry;

TEST(MetricsRegistry, Exposition_HasHelpTypeAndEscapedLabels) {
  Registry r;
  r.describe("connreset_resets_total", Registry::Type::Counter, "TCP resets explained, by cause");
  r.add("connreset_resets_total", {{"cause", "unread_data_at_close"}});
  r.add("connreset_resets_total", {{"cause", "unread_data_at_close"}});
  r.add("connreset_resets_total", {{"cause", "we\"ird\\name\n"}});
  const std::string text = r.exposition();
  EXPECT_NE(text.find("# HELP connreset_resets_total TCP resets explained, by cause\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE connreset_resets_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("connreset_resets_total{cause=\"unread_data_at_close\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("{cause=\"we\\\"ird\\\\name\\n\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsRegistry, ManyProcessNames_AreCappedIntoOther) {
  Registry r;
  for (size_t i = 0; i < Registry::kMaxSeries + 50; ++i) r.add("m", {{"comm", "p" + std::to_string(i)}});
  const std::string text = r.exposition();
  EXPECT_NE(text.find("m{comm=\"_other\"} 50\n"), std::string::npos);
}

TEST(MetricsServer, BarePortBindsLoopback) {
  EXPECT_EQ(metrics::parse_listen_address("9464").host, "127.0.0.1");
  EXPECT_EQ(metrics::parse_listen_address(":9464").host, "127.0.0.1");
  EXPECT_EQ(metrics::parse_listen_address("0.0.0.0:9464").host, "0.0.0.0");
  EXPECT_EQ(metrics::parse_listen_address("[::1]:9464").host, "::1");
  EXPECT_THROW(metrics::HttpServer("not-an-address:x", [] { return std::string(); }), metrics::ServerError);
}

TEST(MetricsServer, ServesMetricsAndRefusesOtherPaths) {
  metrics::HttpServer server("0", [] { return std::string("up 1\n"); });
  const std::string bound = server.bound_address();
  ASSERT_EQ(bound.rfind("127.0.0.1:", 0), 0u) << bound;
  const auto port = static_cast<uint16_t>(std::stoi(bound.substr(10)));
  auto get = [port](const std::string& request) {
    const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
        send(s, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buf[1024];
      ssize_t n;
      while ((n = recv(s, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
    close(s);
    return out;
  };
  const std::string ok = get("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.0 200 OK", 0), 0u) << ok;
  EXPECT_NE(ok.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(ok.find("\r\n\r\nup 1\n"), std::string::npos);
  EXPECT_EQ(get("GET /secret HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(get("POST /metrics HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 405", 0), 0u);
}

}  // namespace
}  // namespace connreset
