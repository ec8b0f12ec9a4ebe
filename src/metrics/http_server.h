#pragma once
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace connreset::metrics {

class ServerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "9464" or ":9464" -> 127.0.0.1:9464 (loopback unless an address is given);
// "0.0.0.0:9464", "[::1]:9464", "192.0.2.1:9464" as given.
struct ListenAddress {
  std::string host;
  std::string port;
};
ListenAddress parse_listen_address(const std::string& text);

// A tiny HTTP/1.0 server for GET /metrics in a thread of its own, as an epoll
// event loop: no client can make another wait. Each connection has a short
// deadline for its whole exchange, requests are bounded in size, and at most
// kMaxConnections are open - past that the oldest is dropped for the newcomer,
// so thousands of idle connections cannot lock a scraper out.
class HttpServer {
 public:
  static constexpr int kMaxConnections = 256;
  static constexpr int kDeadlineMs = 2000;  // to send a request and take the answer

  // Binds and listens (throws ServerError naming the address); serves from
  // start() - or at once when start_now, as the tests use it.
  HttpServer(const std::string& address, std::function<std::string()> metrics_body, bool start_now = true);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  std::string bound_address() const { return bound_; }  // "127.0.0.1:9464"
  bool loopback() const { return loopback_; }

 private:
  void serve();

  std::function<std::string()> body_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;   // eventfd: stop
  int epoll_fd_ = -1;
  std::string bound_;
  bool loopback_ = true;
  std::thread thread_;
};

}  // namespace connreset::metrics
