// Loopback TCP plumbing shared by the load generator and the probe A/B
// benchmark: both ends of every connection live in the calling thread.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace loopback {

inline sockaddr_in address(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Listener on 127.0.0.1; want 0 = ephemeral. Returns the fd (-1 on failure) and sets *port.
inline int make_listener(uint16_t want, uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a = address(want);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 4096) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// connect + accept; both ends in this thread. Returns false on failure.
inline bool connect_pair(int listener, uint16_t port, int* client, int* server) {
  *client = socket(AF_INET, SOCK_STREAM, 0);
  if (*client < 0) return false;
  sockaddr_in a = address(port);
  if (connect(*client, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(*client);
    return false;
  }
  *server = accept(listener, nullptr, nullptr);
  if (*server < 0) {
    close(*client);
    return false;
  }
  return true;
}

inline void nodelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

inline bool write_all(int fd, const char* buf, size_t n) {
  while (n > 0) {
    const ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return false;
    }
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

inline bool read_all(int fd, char* buf, size_t n) {
  while (n > 0) {
    const ssize_t r = recv(fd, buf, n, 0);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return false;
    }
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// One request/response exchange on a connected pair: client -> server -> client.
inline bool exchange(int client, int server, char* buf, size_t n) {
  return write_all(client, buf, n) && read_all(server, buf, n) && write_all(server, buf, n) &&
         read_all(client, buf, n);
}

}  // namespace loopback
