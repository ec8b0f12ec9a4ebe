#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <unordered_map>

namespace connreset::metrics {
namespace {

constexpr size_t kMaxRequest = 8192;
using Clock = std::chrono::steady_clock;

std::string response(const std::string& status, const std::string& type, const std::string& body) {
  return "HTTP/1.0 " + status + "\r\nContent-Type: " + type + "\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::string describe(const sockaddr_storage& ss, bool* loopback) {
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    *loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
  *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
}

struct Conn {
  std::string in;   // the request so far
  std::string out;  // the answer, once the request is complete
  size_t sent = 0;
  Clock::time_point deadline;
};

}  // namespace

ListenAddress parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  ListenAddress a{"127.0.0.1", text};
  if (colon != std::string::npos) {
    a.host = text.substr(0, colon);
    if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
    if (a.host.empty()) a.host = "127.0.0.1";
    a.port = text.substr(colon + 1);
  }
  return a;
}

HttpServer::HttpServer(const std::string& address, std::function<std::string()> metrics_body, bool start_now)
    : body_(std::move(metrics_body)) {
  const ListenAddress a = parse_listen_address(address);
  // getaddrinfo takes "70000" and binds port 70000 % 65536 = 4464: check it here
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(a.port.data(), a.port.data() + a.port.size(), port);
  if (a.port.empty() || ec != std::errc() || end != a.port.data() + a.port.size() || port > 65535) {
    throw ServerError("--metrics " + address + ": the port must be a number from 0 to 65535");
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(a.host.c_str(), a.port.c_str(), &hints, &res); rc != 0) {
    throw ServerError("--metrics " + address + ": " + gai_strerror(rc) +
                      " (expected PORT, HOST:PORT or [V6ADDR]:PORT with a numeric address)");
  }
  listen_fd_ = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const int one = 1;
  if (listen_fd_ >= 0) setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool ok = listen_fd_ >= 0 && bind(listen_fd_, res->ai_addr, res->ai_addrlen) == 0 &&
                  listen(listen_fd_, SOMAXCONN) == 0;
  const int saved = errno;
  freeaddrinfo(res);
  if (!ok) {
    if (listen_fd_ >= 0) close(listen_fd_);
    throw ServerError("--metrics " + address + ": cannot listen: " + std::strerror(saved));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  bound_ = describe(ss, &loopback_);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (wake_fd_ < 0 || epoll_fd_ < 0) {
    const std::string why = std::strerror(errno);
    close(listen_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    throw ServerError("--metrics " + address + ": " + why);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  if (start_now) start();
}

void HttpServer::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { serve(); });
}

HttpServer::~HttpServer() {
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) { /* the thread still sees the closed fd */ }
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_fd_);
  close(epoll_fd_);
}

void HttpServer::serve() {
  std::unordered_map<int, Conn> conns;
  auto drop = [&](int fd) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  auto answer = [&](int fd, Conn& c) {
    const std::string line = c.in.substr(0, c.in.find_first_of("\r\n"));
    if (line.rfind("GET /metrics ", 0) == 0 || line == "GET /metrics") {
      c.out = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", body_());
    } else if (line.rfind("GET ", 0) == 0) {
      c.out = response("404 Not Found", "text/plain", "connreset: metrics are at /metrics\n");
    } else {
      c.out = response("405 Method Not Allowed", "text/plain", "GET only\n");
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  };
  auto on_readable = [&](int fd, Conn& c) {
    char buf[2048];
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) return drop(fd);
      c.in.append(buf, static_cast<size_t>(n));
      if (c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos) {
        return answer(fd, c);
      }
      if (c.in.size() >= kMaxRequest) return drop(fd);
    }
  };
  auto on_writable = [&](int fd, Conn& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n = send(fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) return drop(fd);
      c.sent += static_cast<size_t>(n);
    }
    drop(fd);  // HTTP/1.0: the answer ends with the connection
  };
  auto accept_all = [&] {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // EAGAIN: all taken; EMFILE and the like: retried at the next wake-up
      }
      if (static_cast<int>(conns.size()) >= kMaxConnections) {
        // the oldest connection has had the most time to send its request: it goes
        const auto oldest = std::min_element(conns.begin(), conns.end(), [](const auto& a, const auto& b) {
          return a.second.deadline < b.second.deadline;
        });
        drop(oldest->first);
      }
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        continue;
      }
      conns[fd].deadline = Clock::now() + std::chrono::milliseconds(kDeadlineMs);
    }
  };

  epoll_event events[64];
  for (;;) {
    int timeout = -1;
    if (!conns.empty()) {
      auto next = Clock::time_point::max();
      for (const auto& [fd, c] : conns) next = std::min(next, c.deadline);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count() + 1;
      timeout = static_cast<int>(std::clamp<long long>(ms, 0, kDeadlineMs));
    }
    const int n = epoll_wait(epoll_fd_, events, 64, timeout);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        for (const auto& [cfd, c] : conns) close(cfd);
        return;
      }
      if (fd == listen_fd_) {
        accept_all();
        continue;
      }
      const auto it = conns.find(fd);
      if (it == conns.end()) continue;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        drop(fd);
      } else if (it->second.out.empty()) {
        on_readable(fd, it->second);
      } else {
        on_writable(fd, it->second);
      }
    }
    // deadlines: a slow or idle client loses its connection, nobody else waits for it
    const auto now = Clock::now();
    std::vector<int> late;
    for (const auto& [fd, c] : conns) {
      if (c.deadline <= now) late.push_back(fd);
    }
    for (const int fd : late) drop(fd);
  }
  for (const auto& [cfd, c] : conns) close(cfd);
}

}  // namespace connreset::metrics
