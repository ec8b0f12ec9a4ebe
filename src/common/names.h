#pragma once
#include <cstdint>
#include <string>

namespace connreset {

std::string tcp_state_name(uint8_t state);  // "ESTABLISHED", ...
std::string errno_name(int err);            // 104 -> "ECONNRESET"; unknown -> "E<n>"
std::string thousands(uint64_t n);          // 1048576 -> "1,048,576"

}  // namespace connreset
