#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace connreset {

// Which container and pod a task runs in, as far as this host can tell
// without asking an API server: the cgroup path names the container id, the
// runtime and the pod UID; the kubelet's log directories name the pod.
struct ContainerRef {
  std::string id;       // 64 hex digits
  std::string runtime;  // "containerd", "cri-o", "docker", "podman"; "" when the path does not say
  std::string name;     // from the kubelet's log layout; "" when unknown
};

struct PodRef {
  std::string uid;
  std::string ns;    // "" when no log directory names the pod
  std::string name;
};

struct Workload {
  std::string cgroup_path;  // relative to its hierarchy's root, "/kubepods.slice/..."
  std::optional<ContainerRef> container;
  std::optional<PodRef> pod;
  bool in_container() const { return container || pod; }
};

// What a cgroup path says by itself (both cgroup drivers):
//   systemd:  /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/cri-containerd-<id>.scope
//             crio-<id>.scope, docker-<id>.scope, libpod-<id>.scope (podman, also under user.slice)
//   cgroupfs: /kubepods/besteffort/pod<uid>/<id>, /kubepods/pod<uid>/crio-<id>, /docker/<id>,
//             /libpod_parent/libpod-<id>
Workload parse_cgroup_path(std::string_view path);

// /proc/mounts -> where the cgroup2 hierarchy is mounted ("" when it is not).
std::string cgroup2_mount(std::string_view proc_mounts);

// /proc/PID/cgroup -> the path that places the task. The v2 line ("0::/x")
// when it is not the root; on hybrid hosts (v1 controllers, every task in the
// v2 root) the v1 line that names a container, else name=systemd's, else "/".
std::string placing_cgroup_path(std::string_view proc_pid_cgroup);

}  // namespace connreset
