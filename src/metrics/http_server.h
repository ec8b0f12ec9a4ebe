#pragma once
#include <atomic>
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

// A tiny HTTP/1.0 server for GET /metrics, one request at a time, in its own
// thread. Bounded request size and read timeout: a slow or hostile client
// cannot hold it or grow its memory.
class HttpServer {
 public:
  HttpServer(const std::string& address, std::function<std::string()> metrics_body);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::string bound_address() const { return bound_; }  // "127.0.0.1:9464"

 private:
  void serve();
  void handle(int client);

  std::function<std::string()> body_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop
  std::string bound_;
  std::thread thread_;
};

}  // namespace connreset::metrics
