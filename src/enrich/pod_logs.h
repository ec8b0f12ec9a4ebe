#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace connreset {

// The kubelet's CRI log layout names what the cgroup path only numbers:
//   <pods_dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log
//   <containers_dir>/<pod>_<namespace>_<container>-<container id>.log (symlinks)
// Kubernetes names cannot hold '_', so the splits are unambiguous. Only
// directory names are read (no file contents), which an unprivileged uid can
// do on the default 0755 directories.
class PodLogIndex {
 public:
  struct Pod {
    std::string ns, name;
    std::vector<std::string> containers;  // subdirectories: container names
  };

  // containers_dir "" = <pods_dir>/../containers
  explicit PodLogIndex(std::string pods_dir, std::string containers_dir = "",
                       uint64_t min_rescan_ns = 1'000'000'000);

  // Pod by UID; a miss rescans the directories when one of them changed since
  // the last scan (its mtime: a pod or container was added) or the last scan
  // cannot tell (racy, below), else at most once per min_rescan_ns.
  std::optional<Pod> pod(const std::string& uid, uint64_t now_ns);
  // Container name by id (the containers directory), else the pod's only container.
  std::string container_name(const std::string& id, const std::optional<Pod>& pod, uint64_t now_ns);

  // Parsers for the two kinds of entry (exposed for tests).
  static bool parse_pod_dir(const std::string& entry, std::string* ns, std::string* name, std::string* uid);
  static bool parse_container_log(const std::string& entry, std::string* container, std::string* id);

 private:
  void rescan(uint64_t now_ns);

  std::string pods_dir_, containers_dir_;
  uint64_t min_rescan_ns_;
  std::optional<uint64_t> last_scan_ns_;
  int64_t pods_mtime_ns_ = -1, containers_mtime_ns_ = -1;
  // A directory's mtime ticks with the file system's clock (a jiffy on tmpfs before
  // 6.13): an entry added in the same tick as the scan leaves it unchanged. A scan
  // that saw an mtime that recent cannot vouch for the listing (git's "racily clean"
  // index entries): the next miss scans again.
  bool racy_ = false;
  std::unordered_map<std::string, Pod> pods_;                  // uid -> pod
  std::unordered_map<std::string, std::string> container_names_;  // container id -> name
};

}  // namespace connreset
