#include "enrich/resolver.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

namespace connreset {
namespace {

// A task's placement can change (pid reuse, a task moved) where only the pid keys it.
constexpr uint64_t kPidEntryTtlNs = 60'000'000'000;
// Walks of the v2 hierarchy (for tasks gone before their procfs file was
// read): an id no walk has looked for gets one at once, up to this many per
// interval; an id a walk of this interval missed is not walked for again.
constexpr uint64_t kMinWalkIntervalNs = 2'000'000'000;
constexpr int kMaxWalksPerInterval = 8;
constexpr size_t kMaxWalkDirs = 65536;
constexpr int kMaxWalkDepth = 16;

// Small procfs and mount files: one read(), never blocking on anything but the kernel.
std::optional<std::string> read_small_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) break;
  }
  close(fd);
  return out;
}

}  // namespace

WorkloadResolver::WorkloadResolver(EnrichOptions options)
    : options_(std::move(options)), pod_logs_(options_.pod_logs) {
  if (auto mounts = read_small_file(options_.mounts)) v2_mount_ = cgroup2_mount(*mounts);
  struct stat st {};
  // the v2 root's id: tasks there (every task on a hybrid host) are told apart by pid only
  if (!v2_mount_.empty() && stat(v2_mount_.c_str(), &st) == 0) v2_root_id_ = st.st_ino;
}

WorkloadResolver::Key WorkloadResolver::key_of(const TaskRef& t) const {
  if (t.cgroup != 0 && t.cgroup != v2_root_id_ && !v2_mount_.empty()) return Key{t.cgroup, 0};
  return Key{t.cgroup, t.pid};
}

WorkloadResolver::Entry* WorkloadResolver::find(const Key& k, uint64_t now_ns) {
  auto it = current_.find(k);
  if (it == current_.end()) {
    auto old = previous_.find(k);
    if (old == previous_.end()) return nullptr;
    Entry e = std::move(old->second);
    previous_.erase(old);
    return &insert(k, std::move(e));
  }
  if (k.pid != 0 && now_ns - it->second.resolved_ns > kPidEntryTtlNs) return nullptr;
  if (it->second.retry) return nullptr;  // a deferred walk: no answer was cached
  return &it->second;
}

WorkloadResolver::Entry& WorkloadResolver::insert(const Key& k, Entry e) {
  if (current_.size() >= options_.max_entries / 2) {
    previous_ = std::move(current_);
    current_.clear();
  }
  return current_.insert_or_assign(k, std::move(e)).first->second;
}

std::optional<std::string> WorkloadResolver::path_by_walk(uint64_t cgroup_id, uint64_t now_ns, bool* deferred) {
  if (auto it = walked_.find(cgroup_id); it != walked_.end()) return it->second;
  if (v2_mount_.empty()) return std::nullopt;
  if (!walk_window_ns_ || now_ns - *walk_window_ns_ >= kMinWalkIntervalNs) {
    walk_window_ns_ = now_ns;
    walks_in_window_ = 0;
    missed_.clear();
  }
  if (missed_.contains(cgroup_id)) return std::nullopt;  // not there a moment ago: gone
  if (walks_in_window_ >= kMaxWalksPerInterval) {
    *deferred = true;  // not an answer: the next lookup after the interval walks
    return std::nullopt;
  }
  ++walks_in_window_;
  ++stats_.tree_walks;
  walked_.clear();
  // on cgroup2 a directory's inode number is its cgroup id: readdir's d_ino, no stat()
  std::vector<std::pair<std::string, int>> todo{{"", 0}};
  while (!todo.empty() && walked_.size() < kMaxWalkDirs) {
    auto [rel, depth] = todo.back();
    todo.pop_back();
    DIR* d = opendir((v2_mount_ + rel).c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
      std::string child = rel + "/" + e->d_name;
      walked_.emplace(e->d_ino, child);
      if (depth + 1 < kMaxWalkDepth) todo.emplace_back(std::move(child), depth + 1);
    }
    closedir(d);
  }
  if (auto it = walked_.find(cgroup_id); it != walked_.end()) return it->second;
  missed_.insert(cgroup_id);
  return std::nullopt;
}

void WorkloadResolver::name_pod(Entry& e, uint64_t now_ns) {
  if (e.named || !e.workload) return;
  Workload w = *e.workload;
  std::optional<PodLogIndex::Pod> pod;
  if (w.pod) {
    pod = pod_logs_.pod(w.pod->uid, now_ns);
    if (pod) {
      w.pod->ns = pod->ns;
      w.pod->name = pod->name;
    }
  }
  if (w.container && w.container->name.empty()) w.container->name = pod_logs_.container_name(w.container->id, pod, now_ns);
  // done once the pod is named; an unnamed pod is looked up again at the next lookup
  e.named = !w.pod || pod.has_value();
  e.workload = std::make_shared<const Workload>(std::move(w));
}

WorkloadResolver::Entry WorkloadResolver::resolve(const TaskRef& t, uint64_t now_ns) {
  ++stats_.resolved;
  std::optional<std::string> path;
  const bool placed_by_id = key_of(t).pid == 0;
  bool deferred = false;
  if (auto text = read_small_file(options_.proc + "/" + std::to_string(t.pid) + "/cgroup")) {
    path = placing_cgroup_path(*text);
    if (placed_by_id) {
      // the task may have moved (or the pid been reused) since the event: trust the id
      struct stat st {};
      if (stat((v2_mount_ + *path).c_str(), &st) != 0 || st.st_ino != t.cgroup) {
        path = path_by_walk(t.cgroup, now_ns, &deferred);
      }
    }
  } else {
    ++stats_.failed;
    if (placed_by_id) path = path_by_walk(t.cgroup, now_ns, &deferred);
  }
  Entry e;
  e.resolved_ns = now_ns;
  e.named = true;
  e.retry = deferred;
  if (!path) return e;
  Workload w = parse_cgroup_path(*path);
  if (!w.in_container()) return e;
  e.workload = std::make_shared<const Workload>(std::move(w));
  e.named = false;
  name_pod(e, now_ns);
  return e;
}

void WorkloadResolver::observe(const TaskRef& t, uint64_t now_ns) {
  if (!options_.enabled || t.pid == 0) return;
  const Key k = key_of(t);
  if (k == last_observed_) return;  // the common case: the same task again
  last_observed_ = k;
  if (find(k, now_ns)) return;
  insert(k, resolve(t, now_ns));
}

std::shared_ptr<const Workload> WorkloadResolver::lookup(const TaskRef& t, uint64_t now_ns) {
  if (!options_.enabled || t.pid == 0) return nullptr;
  const Key k = key_of(t);
  Entry* e = find(k, now_ns);
  if (!e) e = &insert(k, resolve(t, now_ns));
  name_pod(*e, now_ns);
  return e->workload;
}

}  // namespace connreset
