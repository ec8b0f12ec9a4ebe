#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "commands/commands.h"

namespace connreset {

std::string drop_privileges() {
  // The ring buffer is mmapped and the counters map fd is open: reading them
  // needs no capability, so a bug in the reader cannot be used as root's.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return std::string("PR_SET_NO_NEW_PRIVS: ") + std::strerror(errno);
  }
  for (int cap = 0; cap <= 63; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) break;
  }
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, 2> none{};
  if (syscall(SYS_capset, &hdr, none.data()) != 0) {
    return std::string("capset: ") + std::strerror(errno);
  }
  return "";
}

}  // namespace connreset
