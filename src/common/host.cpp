#include "common/host.h"

#include <unistd.h>

#include <cstdlib>

namespace connreset {

std::string node_name() {
  if (const char* env = std::getenv("NODE_NAME"); env && *env) return env;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) return host;
  return "";
}

}  // namespace connreset
