#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace connreset {

// User space's view of the process tree the kernel follows for `connreset run`
// (bpf/process_tree.bpf.h). The kernel adds every process a member creates
// and marks exits; refresh() copies what it learnt into members() and deletes
// the exited entries, keeping the bounded map small. A member stays a member
// after it exits: its sockets can still send RSTs (exit_files() runs after the
// exit tracepoint) and its resets are explained after the settle period.
class ProcessTree {
 public:
  struct Member {
    uint32_t parent = 0;
    uint64_t start_ns = 0;
    uint64_t exit_ns = 0;  // 0: still running
  };

  // map_fd: Tracer::tree_map_fd(); -1 makes an empty tree.
  void attach(int map_fd) { fd_ = map_fd; }
  // Puts CMD's tgid in the map before CMD runs. Returns 0 or -errno.
  int seed(uint32_t tgid, uint64_t now_ns);
  // Reads the map: new members, exits. Returns 0 or -errno.
  int refresh();
  // Membership, refreshing once on a miss (a member created since the last refresh).
  bool contains(uint32_t tgid);
  std::vector<uint32_t> running() const;
  const std::unordered_map<uint32_t, Member>& members() const { return members_; }

 private:
  int fd_ = -1;
  std::unordered_map<uint32_t, Member> members_;
};

}  // namespace connreset
