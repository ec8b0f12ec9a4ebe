#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "decode/event.h"
#include "enrich/pod_logs.h"
#include "enrich/workload.h"

namespace connreset {

struct EnrichOptions {
  bool enabled = true;
  std::string pod_logs = "/var/log/pods";  // the kubelet's CRI log directory
  std::string proc = "/proc";
  std::string mounts = "/proc/mounts";
  size_t max_entries = 32768;  // cached tasks/cgroups (two generations of half this)
};

struct EnrichStats {
  uint64_t resolved = 0;       // /proc/PID/cgroup reads
  uint64_t failed = 0;         // the task was gone before it could be read
  uint64_t tree_walks = 0;     // cgroup id -> path by walking the v2 hierarchy
};

// cgroup id (and, where the id does not place the task, pid) -> container and
// pod. Resolved when a task is first seen in process context (it may be gone
// by the time its reset is printed) and cached; the only filesystem work on
// the event path is one small procfs read per new task or cgroup.
// Single-threaded: the pipeline's thread. Runs after trace/record drop to an
// unprivileged user under seccomp (src/sandbox/seccomp_policy.cpp allows its
// read-only openat/read/getdents64/newfstatat): it needs no privilege.
class WorkloadResolver {
 public:
  explicit WorkloadResolver(EnrichOptions options);

  // A task seen in process context: resolve now if it is new.
  void observe(const TaskRef& t, uint64_t now_ns);
  // At output: the cached answer (pod names filled in late), resolving now if
  // it was never observed. nullptr: not in a container or pod.
  std::shared_ptr<const Workload> lookup(const TaskRef& t, uint64_t now_ns);

  const std::string& v2_mount() const { return v2_mount_; }
  EnrichStats stats() const { return stats_; }

 private:
  struct Key {
    uint64_t cgroup = 0;
    uint32_t pid = 0;  // 0 when the cgroup id alone places the task
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<uint64_t>()(k.cgroup * 0x9E3779B97F4A7C15ull ^ k.pid); }
  };
  struct Entry {
    std::shared_ptr<const Workload> workload;  // null: resolved, not in a container
    uint64_t resolved_ns = 0;
    bool named = false;  // pod names looked up (or nothing to look up)
    bool retry = false;  // the walk that would place it was deferred: resolve again
  };

  Key key_of(const TaskRef& t) const;
  Entry* find(const Key& k, uint64_t now_ns);
  Entry& insert(const Key& k, Entry e);
  Entry resolve(const TaskRef& t, uint64_t now_ns);
  // *deferred: the walk budget of this interval is spent (no answer, not "no path")
  std::optional<std::string> path_by_walk(uint64_t cgroup_id, uint64_t now_ns, bool* deferred);
  void name_pod(Entry& e, uint64_t now_ns);

  EnrichOptions options_;
  std::string v2_mount_;
  uint64_t v2_root_id_ = 1;
  PodLogIndex pod_logs_;
  // two generations: a cheap bound with recently used entries kept
  std::unordered_map<Key, Entry, KeyHash> current_, previous_;
  std::unordered_map<uint64_t, std::string> walked_;  // cgroup id -> path, from the last walk
  std::optional<uint64_t> walk_window_ns_;            // start of the current walk interval
  int walks_in_window_ = 0;
  std::unordered_set<uint64_t> missed_;  // ids a walk of this interval did not find
  Key last_observed_{~0ull, ~0u};
  EnrichStats stats_;
};

}  // namespace connreset
