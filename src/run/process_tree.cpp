#include "run/process_tree.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>

#include "process_tree_map.h"

namespace connreset {

int ProcessTree::seed(uint32_t tgid, uint64_t now_ns) {
  if (fd_ < 0) return -EBADF;
  cr_tree_task v{};
  v.start_ns = now_ns;
  if (bpf_map_update_elem(fd_, &tgid, &v, BPF_ANY) != 0) return -errno;
  members_[tgid] = Member{0, now_ns, 0};
  return 0;
}

int ProcessTree::refresh() {
  if (fd_ < 0) return -EBADF;
  // keys first: deleting while walking would restart get_next_key from the start
  std::vector<uint32_t> keys;
  uint32_t key = 0, next = 0;
  const uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(fd_, prev, &next) == 0) {
    keys.push_back(next);
    key = next;
    prev = &key;
  }
  for (uint32_t k : keys) {
    cr_tree_task v{};
    if (bpf_map_lookup_elem(fd_, &k, &v) != 0) continue;
    Member& m = members_[k];
    m.parent = v.parent;
    m.start_ns = v.start_ns;
    m.exit_ns = v.exit_ns;
    // gone: forget it in the kernel (the entry would only take room); the
    // kernel re-adds the tgid if a member creates a process that reuses it
    if (v.exit_ns != 0) bpf_map_delete_elem(fd_, &k);
  }
  return 0;
}

bool ProcessTree::contains(uint32_t tgid) {
  if (tgid == 0) return false;
  if (members_.count(tgid)) return true;
  refresh();
  return members_.count(tgid) > 0;
}

std::vector<uint32_t> ProcessTree::running() const {
  std::vector<uint32_t> out;
  for (const auto& [tgid, m] : members_) {
    if (m.exit_ns == 0) out.push_back(tgid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace connreset
