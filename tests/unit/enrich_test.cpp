// Container and pod names from cgroup paths and the kubelet's log layout.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>

#include "enrich/pod_logs.h"
#include "enrich/resolver.h"
#include "enrich/workload.h"

namespace connreset {
namespace {

const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kUid = "6f1c2b3a-4d5e-4f60-8a9b-0c1d2e3f4a5b";
const std::string kUidSystemd = "6f1c2b3a_4d5e_4f60_8a9b_0c1d2e3f4a5b";

TEST(CgroupPath, KubepodsSystemdDriverEveryRuntime) {
  const std::string pod = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidSystemd + ".slice/";
  for (auto [prefix, runtime] : std::vector<std::pair<std::string, std::string>>{
           {"cri-containerd-", "containerd"}, {"crio-", "cri-o"}, {"docker-", "docker"}}) {
    const Workload w = parse_cgroup_path(pod + prefix + kId + ".scope");
    ASSERT_TRUE(w.container) << prefix;
    EXPECT_EQ(w.container->id, kId);
    EXPECT_EQ(w.container->runtime, runtime);
    ASSERT_TRUE(w.pod);
    EXPECT_EQ(w.pod->uid, kUid);
  }
  // guaranteed pods sit directly under kubepods.slice
  const Workload g = parse_cgroup_path("/kubepods.slice/kubepods-pod" + kUidSystemd + ".slice/crio-" + kId + ".scope");
  ASSERT_TRUE(g.pod);
  EXPECT_EQ(g.pod->uid, kUid);
  EXPECT_EQ(g.container->runtime, "cri-o");
}

TEST(CgroupPath, KubepodsCgroupfsDriver) {
  const Workload w = parse_cgroup_path("/kubepods/besteffort/pod" + kUid + "/" + kId);
  ASSERT_TRUE(w.pod);
  EXPECT_EQ(w.pod->uid, kUid);
  ASSERT_TRUE(w.container);
  EXPECT_EQ(w.container->id, kId);
  EXPECT_EQ(w.container->runtime, "");  // a bare id does not say which CRI runtime made it
  const Workload crio = parse_cgroup_path("/kubepods/pod" + kUid + "/crio-" + kId);
  EXPECT_EQ(crio.container->runtime, "cri-o");
  EXPECT_EQ(crio.pod->uid, kUid);
  // the pod's own cgroup (no container below it)
  const Workload podonly = parse_cgroup_path("/kubepods/burstable/pod" + kUid);
  EXPECT_TRUE(podonly.pod);
  EXPECT_FALSE(podonly.container);
}

TEST(CgroupPath, DockerAndPodmanOutsideKubernetes) {
  const Workload d = parse_cgroup_path("/docker/" + kId);
  EXPECT_EQ(d.container->runtime, "docker");
  EXPECT_FALSE(d.pod);
  EXPECT_EQ(parse_cgroup_path("/system.slice/docker-" + kId + ".scope").container->runtime, "docker");
  const Workload p = parse_cgroup_path("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId +
                                       ".scope/container");
  ASSERT_TRUE(p.container);
  EXPECT_EQ(p.container->runtime, "podman");
  EXPECT_EQ(parse_cgroup_path("/machine.slice/libpod-" + kId + ".scope").container->runtime, "podman");
  EXPECT_EQ(parse_cgroup_path("/libpod_parent/libpod-" + kId).container->runtime, "podman");
}

TEST(CgroupPath, NotContainersAreNotMistaken) {
  for (const std::string& p : std::vector<std::string>{"/", "/user.slice/user-1000.slice/session-3.scope", "/system.slice/sshd.service",
                              "/machine.slice/libpod-conmon-" + kId + ".scope", "/kubepods/besteffort/podnot-a-uid",
                              "/process_api/1425007e88ee0d7e35723d957ebf5c4e", "/docker/" + kId.substr(1)}) {
    EXPECT_FALSE(parse_cgroup_path(p).container) << p;
  }
  EXPECT_FALSE(parse_cgroup_path("/pod" + kUid).pod) << "a pod<uid> name outside kubepods";
}

TEST(CgroupPath, Cgroup2MountFromProcMounts) {
  const std::string hybrid =
      "tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"
      "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";
  EXPECT_EQ(cgroup2_mount(hybrid), "/sys/fs/cgroup/unified");
  EXPECT_EQ(cgroup2_mount("cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n"), "/sys/fs/cgroup");
  EXPECT_EQ(cgroup2_mount("none /my\\040cgroups cgroup2 rw 0 0\n"), "/my cgroups");
  EXPECT_EQ(cgroup2_mount("cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"), "");
}

TEST(CgroupPath, PlacingPathPrefersV2ThenTheV1LineThatNamesAContainer) {
  EXPECT_EQ(placing_cgroup_path("0::/kubepods/pod" + kUid + "/" + kId + "\n"), "/kubepods/pod" + kUid + "/" + kId);
  // hybrid host: every task in the v2 root; v1 controllers place it
  const std::string hybrid = "9:name=systemd:/system.slice/containerd.service\n4:memory:/kubepods/besteffort/pod" +
                             kUid + "/" + kId + "\n1:cpu:/\n0::/\n";
  EXPECT_EQ(placing_cgroup_path(hybrid), "/kubepods/besteffort/pod" + kUid + "/" + kId);
  EXPECT_EQ(placing_cgroup_path("9:name=systemd:/user.slice/session-1.scope\n1:cpu:/\n0::/\n"),
            "/user.slice/session-1.scope");
  EXPECT_EQ(placing_cgroup_path("1:cpu:/\n0::/\n"), "/");
  EXPECT_EQ(placing_cgroup_path("0::/a:b\n"), "/a:b");  // the path may hold ':'
}

TEST(PodLogs, EntryNames) {
  std::string ns, name, uid, container, id;
  ASSERT_TRUE(PodLogIndex::parse_pod_dir("shop_cart-7d9f_" + kUid, &ns, &name, &uid));
  EXPECT_EQ(ns, "shop");
  EXPECT_EQ(name, "cart-7d9f");
  EXPECT_EQ(uid, kUid);
  EXPECT_FALSE(PodLogIndex::parse_pod_dir("no-underscores", &ns, &name, &uid));
  EXPECT_FALSE(PodLogIndex::parse_pod_dir("a_b_c_d", &ns, &name, &uid));
  ASSERT_TRUE(PodLogIndex::parse_container_log("cart-7d9f_shop_app-server-" + kId + ".log", &container, &id));
  EXPECT_EQ(container, "app-server");
  EXPECT_EQ(id, kId);
  EXPECT_FALSE(PodLogIndex::parse_container_log("cart_shop_app.log", &container, &id));
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/connreset-enrich-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(PodLogs, NamesPodsAndContainersFromTheTree) {
  TempDir t;
  std::filesystem::create_directories(t.path / "pods" / ("shop_cart_" + kUid) / "app");
  std::filesystem::create_directories(t.path / "pods" / ("shop_cart_" + kUid) / "sidecar");
  std::filesystem::create_directories(t.path / "containers");
  std::ofstream(t.path / "containers" / ("cart_shop_sidecar-" + kId + ".log")) << "";
  PodLogIndex index((t.path / "pods").string());
  auto pod = index.pod(kUid, 1);
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->ns, "shop");
  EXPECT_EQ(pod->name, "cart");
  EXPECT_EQ(index.container_name(kId, pod, 1), "sidecar");
  EXPECT_EQ(index.container_name(std::string(64, 'e'), pod, 1), "") << "two containers: no guessing";
  // a pod created later is found at once: the directory changed (mtime; coarse clock ticks)
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string uid2 = "11111111-2222-3333-4444-555555555555";
  std::filesystem::create_directories(t.path / "pods" / ("web_front_" + uid2) / "nginx");
  auto later = index.pod(uid2, 2);
  ASSERT_TRUE(later);
  EXPECT_EQ(index.container_name(std::string(64, 'e'), later, 3'000'000'000ull), "nginx") << "the only container";
}

// Sets a directory's mtime, as a coarse file-system clock would have left it.
void set_mtime(const std::filesystem::path& dir, int64_t ns) {
  const timespec ts[2] = {{ns / 1'000'000'000, ns % 1'000'000'000}, {ns / 1'000'000'000, ns % 1'000'000'000}};
  ASSERT_EQ(utimensat(AT_FDCWD, dir.c_str(), ts, 0), 0);
}

int64_t mtime_of(const std::filesystem::path& dir) {
  struct stat st {};
  EXPECT_EQ(stat(dir.c_str(), &st), 0);
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// A pod added in the same clock tick as the last scan leaves the directory's mtime as
// that scan saw it (tmpfs before 6.13 ticks in jiffies): it must still be found. The
// CI saw a reset's receiver named "pod uid ..." in a 6.12 guest for this.
TEST(PodLogs, PodAddedInTheTickOfTheLastScanIsFound) {
  TempDir t;
  const std::filesystem::path pods = t.path / "pods";
  std::filesystem::create_directories(pods / ("shop_cart_" + kUid) / "app");
  std::filesystem::create_directories(t.path / "containers");
  PodLogIndex index(pods.string());
  const int64_t seen = mtime_of(pods);
  ASSERT_TRUE(index.pod(kUid, 1));
  const std::string uid2 = "11111111-2222-3333-4444-555555555555";
  std::filesystem::create_directories(pods / ("web_front_" + uid2) / "nginx");
  set_mtime(pods, seen);  // the same tick
  auto later = index.pod(uid2, 2);
  ASSERT_TRUE(later) << "a scan that saw a fresh mtime must not vouch for its listing";
  EXPECT_EQ(later->name, "front");
}

// An mtime well in the past is trusted: an unknown uid does not rescan on every miss
// (misses come with every reset of a pod whose logs are elsewhere), only after the interval.
TEST(PodLogs, OldUnchangedDirectoriesAreNotRescannedBeforeTheInterval) {
  TempDir t;
  const std::filesystem::path pods = t.path / "pods";
  std::filesystem::create_directories(pods / ("shop_cart_" + kUid) / "app");
  std::filesystem::create_directories(t.path / "containers");
  const int64_t hour_ago = mtime_of(pods) - 3600LL * 1'000'000'000;
  set_mtime(pods, hour_ago);
  set_mtime(t.path / "containers", hour_ago);
  PodLogIndex index(pods.string());
  ASSERT_TRUE(index.pod(kUid, 1));
  const std::string uid2 = "11111111-2222-3333-4444-555555555555";
  std::filesystem::create_directories(pods / ("web_front_" + uid2) / "nginx");
  set_mtime(pods, hour_ago);  // a change the mtime cannot show
  EXPECT_FALSE(index.pod(uid2, 2)) << "rescanned although nothing showed a change";
  EXPECT_TRUE(index.pod(uid2, 2 + 1'000'000'000ull)) << "the interval rescan";
}

TEST(Resolver, HybridHostUsesV1LinesKeyedByPidAndNamesThePod) {
  TempDir t;
  std::filesystem::create_directories(t.path / "proc" / "4242");
  std::ofstream(t.path / "proc" / "4242" / "cgroup")
      << "4:memory:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" << kUidSystemd
      << ".slice/cri-containerd-" << kId << ".scope\n0::/\n";
  std::filesystem::create_directories(t.path / "cg2");
  std::ofstream(t.path / "mounts") << "cgroup2 " << (t.path / "cg2").string() << " cgroup2 rw 0 0\n";
  std::filesystem::create_directories(t.path / "pods" / ("shop_cart_" + kUid) / "app");
  struct stat st {};
  ASSERT_EQ(stat((t.path / "cg2").c_str(), &st), 0);

  EnrichOptions o;
  o.proc = (t.path / "proc").string();
  o.mounts = (t.path / "mounts").string();
  o.pod_logs = (t.path / "pods").string();
  WorkloadResolver r(o);
  EXPECT_EQ(r.v2_mount(), (t.path / "cg2").string());
  const TaskRef task{4242, 4242, "app", st.st_ino};  // in the v2 root, as on a hybrid host
  r.observe(task, 1);
  // gone before its reset is printed: the answer was cached at first sight
  std::filesystem::remove_all(t.path / "proc" / "4242");
  auto w = r.lookup(task, 2);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->container->id, kId);
  EXPECT_EQ(w->container->runtime, "containerd");
  EXPECT_EQ(w->container->name, "app");
  EXPECT_EQ(w->pod->ns, "shop");
  EXPECT_EQ(w->pod->name, "cart");
  EXPECT_EQ(r.stats().resolved, 1u);
  // another pid in the same (root) cgroup is not taken for it
  EXPECT_FALSE(r.lookup(TaskRef{4343, 4343, "other", st.st_ino}, 3));
}

TEST(Resolver, V2CgroupIdIsCheckedAgainstTheDirectory) {
  TempDir t;
  const std::string rel = "/kubepods/besteffort/pod" + kUid + "/" + kId;
  std::filesystem::create_directories(t.path / "cg2" / rel.substr(1));
  std::ofstream(t.path / "mounts") << "cgroup2 " << (t.path / "cg2").string() << " cgroup2 rw 0 0\n";
  std::filesystem::create_directories(t.path / "proc" / "77");
  std::ofstream(t.path / "proc" / "77" / "cgroup") << "0::" << rel << "\n";
  struct stat st {};
  ASSERT_EQ(stat((t.path / "cg2" / rel.substr(1)).c_str(), &st), 0);
  EnrichOptions o;
  o.proc = (t.path / "proc").string();
  o.mounts = (t.path / "mounts").string();
  o.pod_logs = (t.path / "nopods").string();
  WorkloadResolver r(o);
  auto w = r.lookup(TaskRef{77, 77, "x", st.st_ino}, 1);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->cgroup_path, rel);
  EXPECT_EQ(w->pod->uid, kUid);
  EXPECT_EQ(w->pod->name, "") << "no log directory names it";
  // a task whose process is gone is found by walking the hierarchy for its id
  auto gone = r.lookup(TaskRef{78, 78, "y", st.st_ino}, 2);
  ASSERT_TRUE(gone);  // same cgroup id: cached, no procfs read
  EXPECT_EQ(r.stats().resolved, 1u);
  struct stat st2 {};
  std::filesystem::create_directories(t.path / "cg2" / "docker" / kId);
  ASSERT_EQ(stat((t.path / "cg2" / "docker" / kId).c_str(), &st2), 0);
  auto walked = r.lookup(TaskRef{79, 79, "z", st2.st_ino}, 3);
  ASSERT_TRUE(walked);
  EXPECT_EQ(walked->container->runtime, "docker");
  EXPECT_EQ(r.stats().tree_walks, 1u);

  // Bug: a cgroup created after that walk, its task gone, looked up within the
  // walk interval, was cached as "in no container" for good (seen as a pod left
  // unnamed on a slow 5.10 VM). An id no walk has looked for gets its own walk.
  auto make_cgroup = [&](const std::string& rel2) {
    std::filesystem::create_directories(t.path / "cg2" / rel2);
    struct stat s {};
    EXPECT_EQ(stat((t.path / "cg2" / rel2).c_str(), &s), 0);
    return static_cast<uint64_t>(s.st_ino);
  };
  const uint64_t crio = make_cgroup("kubepods/pod" + kUid + "/crio-" + kId);
  auto later = r.lookup(TaskRef{80, 80, "w", crio}, 4);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->container->runtime, "cri-o");
  EXPECT_EQ(r.stats().tree_walks, 2u);
  // an id a walk of this interval missed is not walked for again
  EXPECT_FALSE(r.lookup(TaskRef{81, 81, "v", 999999999}, 5));
  EXPECT_FALSE(r.lookup(TaskRef{81, 81, "v", 999999999}, 6));
  EXPECT_EQ(r.stats().tree_walks, 3u);
  // walks are bounded per interval; a lookup beyond that is answered later, not cached as none
  for (uint64_t id = 1; r.stats().tree_walks < 8; ++id) r.lookup(TaskRef{82, 82, "u", 888888800 + id}, 7);
  const uint64_t podman = make_cgroup("machine.slice/libpod-" + kId + ".scope");
  EXPECT_FALSE(r.lookup(TaskRef{83, 83, "p", podman}, 8));
  EXPECT_EQ(r.stats().tree_walks, 8u);
  auto next = r.lookup(TaskRef{83, 83, "p", podman}, 8 + 2'000'000'000);
  ASSERT_TRUE(next) << "deferred, then walked in the next interval";
  EXPECT_EQ(next->container->runtime, "podman");
}

}  // namespace
}  // namespace connreset
