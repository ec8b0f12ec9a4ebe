#include "scenarios/netns.h"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace connreset {

uint32_t current_netns() {
  struct stat st {};
  if (stat("/proc/self/ns/net", &st) != 0) return 0;
  return static_cast<uint32_t>(st.st_ino);
}

uint32_t enter_private_netns(std::string* error) {
  if (unshare(CLONE_NEWNET) != 0) {
    if (error) *error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    return 0;
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (error) *error = std::string("socket: ") + std::strerror(errno);
    return 0;
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  const bool up = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
                  (ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP),
                   ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
  const int saved = errno;
  close(fd);
  if (!up) {
    if (error) *error = std::string("bringing lo up: ") + std::strerror(saved);
    return 0;
  }
  return current_netns();
}

}  // namespace connreset
