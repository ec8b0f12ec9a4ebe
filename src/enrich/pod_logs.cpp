#include "enrich/pod_logs.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include <memory>

namespace connreset {
namespace {

// Directory entries, bounded: a node runs at most a few hundred pods.
constexpr size_t kMaxEntries = 16384;

std::vector<std::string> list_dir(const std::string& dir, bool dirs_only) {
  std::vector<std::string> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (!d) return out;
  while (dirent* e = readdir(d.get())) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (dirs_only && e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    out.push_back(name);
    if (out.size() >= kMaxEntries) break;
  }
  return out;
}

// Wider than any file system clock's tick that matters here (jiffies at HZ=100 are 10 ms).
constexpr int64_t kRacyWindowNs = 100'000'000;

// A directory's mtime changes when an entry is added or removed: one stat() per miss.
int64_t mtime_ns(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string parent_of(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  const size_t slash = d.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : d.substr(0, slash);
}

}  // namespace

PodLogIndex::PodLogIndex(std::string pods_dir, std::string containers_dir, uint64_t min_rescan_ns)
    : pods_dir_(std::move(pods_dir)),
      containers_dir_(containers_dir.empty() ? parent_of(pods_dir_) + "/containers" : std::move(containers_dir)),
      min_rescan_ns_(min_rescan_ns) {}

bool PodLogIndex::parse_pod_dir(const std::string& entry, std::string* ns, std::string* name, std::string* uid) {
  const size_t a = entry.find('_');
  if (a == std::string::npos) return false;
  const size_t b = entry.find('_', a + 1);
  if (b == std::string::npos || entry.find('_', b + 1) != std::string::npos) return false;
  *ns = entry.substr(0, a);
  *name = entry.substr(a + 1, b - a - 1);
  *uid = entry.substr(b + 1);
  return !ns->empty() && !name->empty() && !uid->empty();
}

bool PodLogIndex::parse_container_log(const std::string& entry, std::string* container, std::string* id) {
  // <pod>_<namespace>_<container>-<64 hex>.log
  constexpr size_t kId = 64;
  if (entry.size() < 4 + kId + 1 || entry.substr(entry.size() - 4) != ".log") return false;
  const std::string stem = entry.substr(0, entry.size() - 4);
  if (stem[stem.size() - kId - 1] != '-') return false;
  *id = stem.substr(stem.size() - kId);
  const size_t last_us = stem.rfind('_');
  if (last_us == std::string::npos || last_us + 1 >= stem.size() - kId - 1) return false;
  *container = stem.substr(last_us + 1, stem.size() - kId - 1 - (last_us + 1));
  return !container->empty();
}

void PodLogIndex::rescan(uint64_t now_ns) {
  const int64_t pods_mtime = mtime_ns(pods_dir_), containers_mtime = mtime_ns(containers_dir_);
  const bool changed = pods_mtime != pods_mtime_ns_ || containers_mtime != containers_mtime_ns_;
  if (!changed && !racy_ && last_scan_ns_ && now_ns - *last_scan_ns_ < min_rescan_ns_) return;
  // read the clock after the mtimes: an mtime within a tick of it may hide an entry
  // added after the stat() in the same tick
  const int64_t scan_ns = realtime_ns();
  auto recent = [scan_ns](int64_t mtime) {
    return mtime >= 0 && scan_ns - mtime < kRacyWindowNs && mtime - scan_ns < kRacyWindowNs;
  };
  racy_ = recent(pods_mtime) || recent(containers_mtime);
  last_scan_ns_ = now_ns;
  pods_mtime_ns_ = pods_mtime;
  containers_mtime_ns_ = containers_mtime;
  pods_.clear();
  container_names_.clear();
  for (const std::string& entry : list_dir(pods_dir_, /*dirs_only=*/true)) {
    Pod p;
    std::string uid;
    if (!parse_pod_dir(entry, &p.ns, &p.name, &uid)) continue;
    p.containers = list_dir(pods_dir_ + "/" + entry, /*dirs_only=*/true);
    pods_[uid] = std::move(p);
  }
  for (const std::string& entry : list_dir(containers_dir_, /*dirs_only=*/false)) {
    std::string name, id;
    if (parse_container_log(entry, &name, &id)) container_names_[id] = name;
  }
}

std::optional<PodLogIndex::Pod> PodLogIndex::pod(const std::string& uid, uint64_t now_ns) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) {
    rescan(now_ns);
    it = pods_.find(uid);
  }
  if (it == pods_.end()) return std::nullopt;
  return it->second;
}

std::string PodLogIndex::container_name(const std::string& id, const std::optional<Pod>& pod, uint64_t now_ns) {
  auto it = container_names_.find(id);
  if (it == container_names_.end()) {
    rescan(now_ns);
    it = container_names_.find(id);
  }
  if (it != container_names_.end()) return it->second;
  if (pod && pod->containers.size() == 1) return pod->containers.front();
  return "";
}

}  // namespace connreset
