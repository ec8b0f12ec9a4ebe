#pragma once
#include <cstdint>
#include <string>

namespace connreset {

// Moves the calling process into a new network namespace with loopback up,
// so scenarios neither see nor disturb the host's traffic. Returns the
// namespace's inode (what the probes report as netns), 0 with *error set on failure.
uint32_t enter_private_netns(std::string* error);

// Inode of the network namespace of the calling process.
uint32_t current_netns();

}  // namespace connreset
