#include "common/names.h"

#include <cerrno>

#include "connreset.h"

namespace connreset {

std::string tcp_state_name(uint8_t state) {
  switch (state) {  // from CR_TCP_STATES (bpf/connreset.h)
    case 0: return "UNKNOWN";
#define CONNRESET_TCP_STATE_NAME(name, camel, value) \
  case value: return #name;
    CR_TCP_STATES(CONNRESET_TCP_STATE_NAME)
#undef CONNRESET_TCP_STATE_NAME
  }
  return "STATE_" + std::to_string(state);
}

std::string errno_name(int err) {
  switch (err) {
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNABORTED: return "ECONNABORTED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case ENOTCONN: return "ENOTCONN";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EMSGSIZE: return "EMSGSIZE";
    case EPROTO: return "EPROTO";
    default: return "E" + std::to_string(err);
  }
}

std::string thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  const size_t lead = digits.size() % 3;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (i + 3 - lead) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace connreset
