#pragma once
// Two network namespaces joined by a veth pair: two containers on one host.
#include <sys/types.h>

#include <string>

namespace connreset::kit {

inline constexpr const char* kHostAAddr = "169.254.77.1";  // link-local: routed nowhere
inline constexpr const char* kHostBAddr = "169.254.77.2";
inline constexpr const char* kHostAIf = "cr-a";
inline constexpr const char* kHostBIf = "cr-b";

// Parent side: creates the veth pair with one end in the network namespace of
// process a (named kHostAIf) and the other in b's (kHostBIf). "" or the error.
std::string veth_between(pid_t a, pid_t b);

// Child side, inside its own namespace: address/24 on ifname, link and lo up.
std::string veth_configure(const char* ifname, const char* address);

}  // namespace connreset::kit
