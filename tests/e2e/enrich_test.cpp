// Container and pod names on a real reset: real cgroups named the way the
// kubelet and containerd name them (both cgroup drivers), the two ends of the
// connection moved into two such "pods", and a kubelet-style log tree that
// names them. connreset runs as users run it (the binary, JSON and text).
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e/harness.h"
#include "e2e/subprocess.h"
#include "enrich/workload.h"
#include "scenarios/kit.h"

namespace connreset::e2e {
namespace {

namespace fs = std::filesystem;

std::string random_hex(std::mt19937_64& rng, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kHex[rng() % 16];
  return s;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One fake pod: its cgroup (driver-specific name) and its log directories.
struct FakePod {
  std::string ns, name, container, uid, id;
  std::string cgroup_dir;  // absolute, under the v2 mount
  std::vector<std::string> created;  // cgroup directories made here, deepest last
};

class Enrichment : public ::testing::Test {
 protected:
  void SetUp() override {
    netns_ = private_netns();
    ASSERT_NE(netns_, 0u);
    std::random_device rd;
    rng_.seed((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(getpid()));
    mount_ = cgroup2_mount(read_text("/proc/mounts"));
    if (mount_.empty()) {
      // no cgroup2 hierarchy mounted (a v1-only host): mount one for the test
      char tmpl[] = "/tmp/connreset-cg2-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      ASSERT_EQ(mount("none", tmpl, "cgroup2", 0, nullptr), 0) << std::strerror(errno);
      mount_ = own_mount_ = tmpl;
    }
    char tmpl[] = "/tmp/connreset-pods-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    logs_ = tmpl;
    chmod(logs_.c_str(), 0755);  // as /var/log/pods: names readable without privileges
    fs::create_directories(logs_ + "/pods");
    fs::create_directories(logs_ + "/containers");
  }

  void TearDown() override {
    for (auto it = pods_.rbegin(); it != pods_.rend(); ++it) {
      for (auto d = it->created.rbegin(); d != it->created.rend(); ++d) {
        EXPECT_EQ(rmdir(d->c_str()), 0) << *d << ": " << std::strerror(errno);
      }
    }
    // shared parents (kubepods.slice, kubepods/besteffort): only when empty, others may use them
    for (auto d = shared_.rbegin(); d != shared_.rend(); ++d) rmdir(d->c_str());
    if (!own_mount_.empty()) {
      umount(own_mount_.c_str());
      rmdir(own_mount_.c_str());
    }
    fs::remove_all(logs_);
  }

  void mkdir_cgroup(FakePod& p, const std::string& dir, bool shared) {
    if (mkdir(dir.c_str(), 0755) == 0) {
      (shared ? shared_ : p.created).push_back(dir);
    } else {
      ASSERT_EQ(errno, EEXIST) << dir << ": " << std::strerror(errno);
      ASSERT_TRUE(shared) << dir << " existed already";
    }
  }

  // systemd driver: kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/cri-containerd-<id>.scope
  // cgroupfs driver: kubepods/besteffort/pod<uid>/<id>
  FakePod make_pod(const std::string& ns, const std::string& name, const std::string& container, bool systemd) {
    FakePod p{ns, name, container, "", random_hex(rng_, 64), "", {}};
    p.uid = random_hex(rng_, 8) + "-" + random_hex(rng_, 4) + "-" + random_hex(rng_, 4) + "-" +
            random_hex(rng_, 4) + "-" + random_hex(rng_, 12);
    if (systemd) {
      std::string uid_ = p.uid;
      std::replace(uid_.begin(), uid_.end(), '-', '_');
      mkdir_cgroup(p, mount_ + "/kubepods.slice", true);
      mkdir_cgroup(p, mount_ + "/kubepods.slice/kubepods-besteffort.slice", true);
      const std::string pod = mount_ + "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ + ".slice";
      mkdir_cgroup(p, pod, false);
      p.cgroup_dir = pod + "/cri-containerd-" + p.id + ".scope";
    } else {
      mkdir_cgroup(p, mount_ + "/kubepods", true);
      mkdir_cgroup(p, mount_ + "/kubepods/besteffort", true);
      mkdir_cgroup(p, mount_ + "/kubepods/besteffort/pod" + p.uid, false);
      p.cgroup_dir = mount_ + "/kubepods/besteffort/pod" + p.uid + "/" + p.id;
    }
    mkdir_cgroup(p, p.cgroup_dir, false);
    // the kubelet's log layout for it
    fs::create_directories(logs_ + "/pods/" + ns + "_" + name + "_" + p.uid + "/" + container);
    std::ofstream(logs_ + "/pods/" + ns + "_" + name + "_" + p.uid + "/" + container + "/0.log") << "";
    std::ofstream(logs_ + "/containers/" + name + "_" + ns + "_" + container + "-" + p.id + ".log") << "";
    return p;
  }

  // unread_data_at_close between two processes that first move themselves into the pods' cgroups
  ScenarioOutcome reset_between(const FakePod& server, const FakePod& client) {
    // built before fork: a child of this multithreaded process must not allocate
    const std::string server_procs = server.cgroup_dir + "/cgroup.procs";
    const std::string client_procs = client.cgroup_dir + "/cgroup.procs";
    const char* sp = server_procs.c_str();
    const char* cp = client_procs.c_str();
    auto join = [](const char* procs) {
      const int fd = open(procs, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, "0", 1) != 1) kit::child_exit(kit::kSetupFailed);
      close(fd);
    };
    ScenarioOutcome o = kit::outcome("pods", "unread data between two pods", Cause::UnreadDataAtClose);
    return kit::run_pair(
        o,
        [&, sp](int fd, int) {
          join(sp);
          if (!kit::recv_exactly(fd, kit::kRequestHead)) kit::child_exit(kit::kSetupFailed);
          if (!kit::send_all(fd, kit::kResponse, sizeof(kit::kResponse) - 1)) kit::child_exit(kit::kSetupFailed);
          if (!kit::wait_unread(fd, static_cast<int>(kUnreadScenarioBytes))) kit::child_exit(kit::kSetupFailed);
          close(fd);
          kit::child_exit(0);
        },
        [&, cp](uint16_t port) {
          join(cp);
          kit::unread_request_client(port);
        });
  }

  Proc trace(const std::string& output) {
    // --duration only stops a tracer a failed test left behind (the test ends them with SIGINT):
    // 20 s ran out before the second pod pair's reset in a qemu TCG guest
    return spawn({CONNRESET_BINARY, "trace", "-o", output, "--duration", "120", "--probes", family_name(),
                  "--settle-ms", "200", "--netns", std::to_string(netns_), "--pod-logs", logs_ + "/pods"});
  }

  uint32_t netns_ = 0;
  std::mt19937_64 rng_;
  std::string mount_, own_mount_, logs_;
  std::vector<FakePod> pods_;
  std::vector<std::string> shared_;
};

void expect_pod(const nlohmann::json& party, const FakePod& p, const char* runtime, const std::string& where) {
  ASSERT_TRUE(party.is_object()) << where;
  ASSERT_TRUE(party["pod"].is_object()) << where << ": " << party.dump();
  EXPECT_EQ(party["pod"]["namespace"], p.ns) << where;
  EXPECT_EQ(party["pod"]["name"], p.name) << where;
  EXPECT_EQ(party["pod"]["uid"], p.uid) << where;
  ASSERT_TRUE(party["container"].is_object()) << where << ": " << party.dump();
  EXPECT_EQ(party["container"]["id"], p.id) << where;
  EXPECT_EQ(party["container"]["name"], p.container) << where;
  if (runtime) {
    EXPECT_EQ(party["container"]["runtime"], runtime) << where;
  } else {
    EXPECT_TRUE(party["container"]["runtime"].is_null()) << where;
  }
}

TEST_F(Enrichment, ResetBetweenTwoPodsNamesBothPodsUnderBothCgroupDrivers) {
  Proc json = trace("json");
  Proc text = trace("text");
  ASSERT_GT(json.pid, 0);
  ASSERT_GT(text.pid, 0);
  std::string jbuf, tbuf;
  ASSERT_FALSE(read_line(json.out, jbuf, std::chrono::seconds(30)).empty()) << read_all(json.err);
  ASSERT_FALSE(read_line(text.out, tbuf, std::chrono::seconds(30)).empty()) << read_all(text.err);

  struct Case {
    bool systemd;
    const char* runtime;
  };
  std::vector<std::pair<ScenarioOutcome, std::pair<size_t, size_t>>> runs;
  for (const Case c : {Case{true, "containerd"}, Case{false, nullptr}}) {
    pods_.push_back(make_pod("shop", c.systemd ? "cart-7d9f" : "cart-fs", "server", c.systemd));
    pods_.push_back(make_pod("web", c.systemd ? "front-5c4b" : "front-fs", "client", c.systemd));
    if (HasFatalFailure()) return;
    const ScenarioOutcome o = reset_between(pods_[pods_.size() - 2], pods_.back());
    ASSERT_TRUE(o.ok()) << o.error;
    runs.push_back({o, {pods_.size() - 2, pods_.size() - 1}});
  }

  std::map<int, nlohmann::json> json_resets;  // by the server's port
  std::vector<std::string> text_blocks;
  std::string partial;
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& [o, idx] = runs[i];
    const FakePod& server = pods_[idx.first];
    const FakePod& client = pods_[idx.second];
    const char* runtime = i == 0 ? "containerd" : nullptr;
    // the two resets may come out in either order (each is printed when it settles): keep
    // every reset line and block seen, by port, instead of skipping the other one
    while (!json_resets.count(o.server_port)) {
      const std::string line = read_line(json.out, jbuf, std::chrono::seconds(15));
      if (line.empty()) break;
      auto j = nlohmann::json::parse(line);
      if (j["type"] == "reset") json_resets[j["remote"]["port"].get<int>()] = j;
    }
    ASSERT_TRUE(json_resets.count(o.server_port)) << "no reset for port " << o.server_port;
    const nlohmann::json& reset = json_resets[o.server_port];
    std::cout << "[ enrich   ] " << reset.dump() << "\n";
    EXPECT_EQ(reset["cause"], "unread_data_at_close");
    EXPECT_EQ(reset["sender"]["pid"], o.server_pid);
    EXPECT_EQ(reset["receiver"]["pid"], o.client_pid);
    expect_pod(reset["sender"], server, runtime, "sender");
    expect_pod(reset["receiver"], client, runtime, "receiver");
    expect_pod(reset["closer"], server, runtime, "closer");
    EXPECT_FALSE(reset["host"].get<std::string>().empty());

    // text: the block names both pods next to the processes
    auto find_block = [&] {
      for (const std::string& b : text_blocks) {
        if (b.find(":" + std::to_string(o.server_port) + " ") != std::string::npos) return b;
      }
      return std::string();
    };
    for (std::string line; find_block().empty() && !(line = read_line(text.out, tbuf, std::chrono::seconds(15))).empty();) {
      if (line.find(" RESET ") != std::string::npos) partial.clear();
      partial += line + "\n";
      if (line.rfind("  fix:", 0) == 0) text_blocks.push_back(partial);
    }
    const std::string block = find_block();
    ASSERT_FALSE(block.empty()) << "no text block for port " << o.server_port;
    std::cout << block;
    EXPECT_NE(block.find("cr-client[" + std::to_string(o.client_pid) + "] (pod web/" + client.name + ")"),
              std::string::npos) << block;
    EXPECT_NE(block.find("sender cr-server[" + std::to_string(o.server_pid) + "] in pod shop/" + server.name +
                         ", container server"), std::string::npos) << block;
  }
  kill(json.pid, SIGINT);
  kill(text.pid, SIGINT);
  read_all(json.out);
  read_all(text.out);
  EXPECT_EQ(wait_exit(json.pid), 0);
  EXPECT_EQ(wait_exit(text.pid), 0);
}

// The JSON lines of trace (every type it writes) and of report, checked against
// docs/schema/ with python3-jsonschema. Host only: the VMs' busybox has no python
// (scripts/vmtest.sh leaves JsonSchema.* out).
class JsonSchema : public Enrichment {
 protected:
  // 0 when every line is valid; the checker's verdict is printed either way
  int check(const std::string& file, const std::string& require) {
    const std::string cmd = std::string("python3 ") + CONNRESET_SOURCE_DIR + "/scripts/check_schema.py " +
                            CONNRESET_SOURCE_DIR + "/docs/schema/connreset-line.schema.json " + file +
                            " --require " + require;
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
  }
};

TEST_F(JsonSchema, TraceAndReportLinesAreValidAndTsNsIsWallClockInBoth) {
  const std::string journal = logs_ + "/journal";
  Proc json = spawn({CONNRESET_BINARY, "trace", "--json", "--all", "--duration", "120", "--probes", family_name(),
                     "--settle-ms", "200", "--netns", std::to_string(netns_), "--pod-logs", logs_ + "/pods"});
  Proc rec = spawn({CONNRESET_BINARY, "record", "--out", journal, "--probes", family_name(), "--settle-ms", "200",
                    "--netns", std::to_string(netns_)});
  std::string jbuf, rbuf;
  const std::string meta = read_line(json.out, jbuf, std::chrono::seconds(30));
  ASSERT_FALSE(meta.empty()) << read_all(json.err);
  bool journaling = false;
  for (std::string l; !journaling && !(l = read_line(rec.err, rbuf, std::chrono::seconds(30))).empty();) {
    journaling = l.find("journaling to") != std::string::npos;
  }
  ASSERT_TRUE(journaling) << "the recorder did not start";

  pods_.push_back(make_pod("shop", "cart", "server", true));
  pods_.push_back(make_pod("web", "front", "client", false));
  if (HasFatalFailure()) return;
  const ScenarioOutcome o = reset_between(pods_[0], pods_[1]);
  ASSERT_TRUE(o.ok()) << o.error;
  const ScenarioOutcome loop = run_recv_loop_after_end();  // a finding line
  ASSERT_TRUE(loop.ok()) << loop.error;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(json.pid, SIGINT);
  kill(rec.pid, SIGINT);
  const std::string trace_out = meta + "\n" + jbuf + read_all(json.out);
  EXPECT_EQ(wait_exit(json.pid), 0);
  EXPECT_EQ(wait_exit(rec.pid), 0);

  const std::string trace_file = logs_ + "/trace.jsonl";
  std::ofstream(trace_file) << trace_out;
  Proc rep = spawn({CONNRESET_BINARY, "report", "-o", "json", journal});
  const std::string report_out = read_all(rep.out);
  EXPECT_EQ(wait_exit(rep.pid), 0) << read_all(rep.err);
  const std::string report_file = logs_ + "/report.jsonl";
  std::ofstream(report_file) << report_out;

  EXPECT_EQ(check(trace_file, "meta,reset,state,finding,stats"), 0) << trace_out;
  EXPECT_EQ(check(report_file, "meta,reset,finding,host,stats"), 0) << report_out;

  // one meaning of ts_ns: the wall-clock instant of `time`, the same reset in both
  auto reset_in = [&](const std::string& lines) {
    std::istringstream in(lines);
    for (std::string l; std::getline(in, l);) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (j.is_object() && j["type"] == "reset" && j["remote"]["port"] == o.server_port) return j;
    }
    return nlohmann::json();
  };
  const nlohmann::json t = reset_in(trace_out), r = reset_in(report_out);
  ASSERT_TRUE(t.is_object() && r.is_object()) << "the pods' reset is missing in trace or report";
  const auto now_ns = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               std::chrono::system_clock::now().time_since_epoch()).count());
  EXPECT_LT(std::llabs(now_ns - t["ts_ns"].get<int64_t>()), 60'000'000'000LL) << "trace ts_ns is not wall clock";
  // trace's offset and the recorder's (in the journal, used by report) are taken apart, each the
  // tightest of several bracketed clock reads (common/clock.cpp): within 1 ms of each other
  const int64_t apart = std::llabs(t["ts_ns"].get<int64_t>() - r["ts_ns"].get<int64_t>());
  std::cout << "[ ts_ns    ] trace and report " << apart << " ns apart on the same reset\n";
  EXPECT_LT(apart, 1'000'000LL) << "trace and report disagree on the same reset's ts_ns";
  EXPECT_EQ(t["time"].get<std::string>().substr(0, 19), r["time"].get<std::string>().substr(0, 19));
  EXPECT_EQ(t["sender"]["pod"]["name"], "cart");
  EXPECT_EQ(t["receiver"]["pod"]["name"], "front");
}

}  // namespace
}  // namespace connreset::e2e
