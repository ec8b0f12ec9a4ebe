// The binary against hostile or careless input and environments (issue 12):
// odd numbers, non-namespaces, a closed stdout, journal directories that
// end their sequence, belong to someone else or vanish - and proof that
// trace and record run unprivileged and seccomp-confined once attached.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "e2e/harness.h"
#include "e2e/subprocess.h"
#include "journal/format.h"
#include "scenarios/netns.h"

namespace connreset::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The exit code once pid exits, or nullopt at the deadline (pid still running).
std::optional<int> exit_within(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

std::string status_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void expect_unprivileged_and_confined(pid_t pid) {
  const std::string s = status_of(pid);
  EXPECT_NE(s.find("Uid:\t65534\t65534\t65534\t65534"), std::string::npos) << s;
  EXPECT_NE(s.find("Gid:\t65534\t65534\t65534\t65534"), std::string::npos) << s;
  EXPECT_NE(s.find("CapEff:\t0000000000000000"), std::string::npos) << s;
  EXPECT_NE(s.find("CapPrm:\t0000000000000000"), std::string::npos) << s;
  EXPECT_NE(s.find("NoNewPrivs:\t1"), std::string::npos) << s;
  EXPECT_NE(s.find("Seccomp:\t2"), std::string::npos) << s;
}

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override {
    netns_ = private_netns();
    ASSERT_NE(netns_, 0u);
    char tmpl[] = "/tmp/connreset-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
  }
  void TearDown() override { fs::remove_all(tmp_); }

  std::vector<std::string> record_args(const std::string& dir) const {
    return {CONNRESET_BINARY, "record", "--out", dir, "--probes", family_name(), "--settle-ms", "100",
            "--netns", std::to_string(netns_)};
  }

  uint32_t netns_ = 0;
  std::string tmp_;
};

TEST_F(Hardening, NumericOptionsOutOfRange_RefusedWithTheReason) {
  const std::string out = tmp_ + "/j";
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"trace", "--duration", "18446744073"}, "out of range"},  // exited at once: the deadline overflowed
      {{"trace", "--duration", "nan"}, "expected a number of seconds"},  // never stopped
      {{"trace", "--duration", "inf"}, "expected a number of seconds"},
      {{"trace", "--duration", "-1"}, "out of range"},
      {{"trace", "--ringbuf-kib", "5"}, "power of two"},
      {{"trace", "--pid", "99999999999"}, "--pid"},
      {{"trace", "--port", "70000"}, "--port"},
      {{"record", "--out", out, "--metrics", "70000"}, "the port must be a number from 0 to 65535"},  // bound 4464
      {{"record", "--out", out, "--metrics", "127.0.0.1:65536"}, "0 to 65535"},
      {{"record", "--out", out, "--max-files", "0"}, "--max-files"},
      {{"trace", "--user", "no-such-user-here"}, "no such user"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{CONNRESET_BINARY};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Ran r = run(args);
    const std::string said = r.out + r.err;
    EXPECT_NE(r.code, 0) << c.args[1] << " " << c.args.back();
    EXPECT_NE(said.find(c.says), std::string::npos) << c.args.back() << ": " << said;
  }
  EXPECT_FALSE(fs::exists(out)) << "nothing may be created for a refused command line";
}

TEST_F(Hardening, NetnsThatIsNotANetworkNamespace_Refused) {
  for (const auto& [arg, says] : std::vector<std::pair<std::string, std::string>>{
           {"/etc/passwd", "not a namespace file"},
           {"/proc/self/ns/mnt", "not a network namespace"},
           {"12345678901", "32-bit"},
           {"4294967295", "no process is in a network namespace"},
           {"/no/such/ns", "/no/such/ns"}}) {
    const Ran r = run({CONNRESET_BINARY, "trace", "--netns", arg, "--duration", "1"});
    EXPECT_EQ(r.code, 2) << arg << ": " << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << arg << ": " << r.err;
  }
  // the real thing, by path and by number, is accepted (and traces: proven elsewhere)
  for (const std::string& arg : {std::string("/proc/self/ns/net"), std::to_string(netns_)}) {
    const Ran r = run({CONNRESET_BINARY, "trace", "--netns", arg, "--duration", "0.5", "--probes", family_name()});
    EXPECT_EQ(r.code, 0) << arg << ": " << r.err;
  }
}

TEST_F(Hardening, TracePipedIntoHead_ExitsWhenThePipeCloses) {
  // before: trace kept running with nobody reading (SIGPIPE is ignored)
  Proc p = spawn({"sh", "-c", std::string(CONNRESET_BINARY) + " trace --json --probes " + family_name() +
                                  " --netns " + std::to_string(netns_) + " | head -1"});
  ASSERT_GT(p.pid, 0);
  const auto code = exit_within(p.pid, 30s);
  if (!code) {
    run({"pkill", "-INT", "-P", std::to_string(p.pid)});  // the shell's children only
    wait_exit(p.pid);
  }
  ASSERT_TRUE(code.has_value()) << "trace still running 30 s after head exited";
  EXPECT_EQ(*code, 0);
  const std::string line = read_all(p.out);
  EXPECT_NE(line.find("\"type\":\"meta\""), std::string::npos) << line;
}

TEST_F(Hardening, Trace_RunsAsNobodyWithoutCapabilitiesUnderSeccomp_AndStillExplains) {
  Proc t = spawn({CONNRESET_BINARY, "trace", "--json", "--probes", family_name(), "--settle-ms", "100",
                  "--netns", std::to_string(netns_)});
  std::string buf;
  const std::string meta = read_line(t.out, buf, 30s);
  ASSERT_NE(meta.find("\"type\":\"meta\""), std::string::npos) << meta << read_all(t.err);
  // the meta line is written before the drop: wait for the switch itself
  std::string s;
  for (const auto deadline = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < deadline && (s = status_of(t.pid)).find("Seccomp:\t2") == std::string::npos;
       std::this_thread::sleep_for(10ms)) {
  }
  expect_unprivileged_and_confined(t.pid);

  const ScenarioOutcome o = run_unread_data_at_close();
  ASSERT_TRUE(o.ok()) << o.error;
  nlohmann::json reset;
  for (std::string line; reset.is_null() && !(line = read_line(t.out, buf, 20s)).empty();) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "reset" && j["remote"]["port"] == o.server_port) reset = j;
  }
  kill(t.pid, SIGINT);
  EXPECT_EQ(wait_exit(t.pid), 0);
  ASSERT_FALSE(reset.is_null()) << "no reset explained by the confined tracer";
  EXPECT_EQ(reset["cause"], "unread_data_at_close");
  EXPECT_EQ(reset["sender"]["comm"], "cr-server");
}

TEST_F(Hardening, Record_RotatesAsNobodyUnderSeccomp) {
  const std::string dir = tmp_ + "/journal";
  auto args = record_args(dir);
  args.insert(args.end(), {"--max-size", "4096", "--max-files", "3"});
  Proc rec = spawn(args);
  std::string err;
  ASSERT_TRUE(read_until(rec.err, err, "journaling to", 30s)) << err;
  expect_unprivileged_and_confined(rec.pid);
  // resets until rotation has created (and deleted) files as the unprivileged user
  auto newest = [&] {
    uint64_t top = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (auto seq = journal::sequence_of(e.path().filename().string())) top = std::max(top, *seq);
    }
    return top;
  };
  for (const auto deadline = std::chrono::steady_clock::now() + 60s;
       newest() < 5 && std::chrono::steady_clock::now() < deadline;) {
    ASSERT_TRUE(run_unread_data_at_close().ok());
  }
  EXPECT_GE(newest(), 5u) << "no rotation";
  kill(rec.pid, SIGTERM);
  const std::string rest = read_all(rec.err);
  EXPECT_EQ(wait_exit(rec.pid), 0) << err << rest;
  // counted once it stopped: a rotation creates the new file before it deletes the oldest
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++files;
    struct stat st {};
    ASSERT_EQ(stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 65534u) << e.path();
    EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
  }
  EXPECT_EQ(files, 3u) << "--max-files: the oldest were deleted";
  EXPECT_NE(rest.find("of them still in"), std::string::npos) << "claims only what is still on disk: " << rest;
}

TEST_F(Hardening, Record_DirectoryEndingAtTheLastSequence_RefusedNotWrapped) {
  // before: the sequence wrapped to 0, rotation deleted the file being
  // written, record said "60 events journaled" and report found nothing
  const std::string dir = tmp_ + "/journal";
  fs::create_directory(dir);
  chmod(dir.c_str(), 0700);
  const std::string last = dir + "/connreset-18446744073709551615.journal";
  std::ofstream(last) << "old";
  const Ran r = run(record_args(dir));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("no sequence number comes after it"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(last));
  EXPECT_FALSE(fs::exists(dir + "/connreset-00000000.journal"));
}

TEST_F(Hardening, Record_DirectoryOfAnotherUser_RefusedBeforeAttaching) {
  // before: started fine as root, then failed at the first rotation once unprivileged
  const std::string dir = tmp_ + "/theirs";
  fs::create_directory(dir);
  chmod(dir.c_str(), 0700);
  ASSERT_EQ(chown(dir.c_str(), 12345, 12345), 0);
  for (const std::string user : {"nobody", "root"}) {
    auto args = record_args(dir);
    args.insert(args.end(), {"--user", user});
    const Ran r = run(args);
    EXPECT_EQ(r.code, 2) << user << ": " << r.err;
    EXPECT_NE(r.err.find("owned by uid 12345"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("journaling to"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST_F(Hardening, Record_SymlinkOrWorldWritableOut_Refused) {
  const std::string real = tmp_ + "/real";
  fs::create_directory(real);
  chmod(real.c_str(), 0700);
  fs::create_directory_symlink(real, tmp_ + "/link");
  Ran r = run(record_args(tmp_ + "/link"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("symbolic link"), std::string::npos) << r.err;
  chmod(real.c_str(), 0777);
  r = run(record_args(real));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("world-writable"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(real));
}

TEST_F(Hardening, Record_DirectoryDeletedWhileRecording_FailsLoudly) {
  // before: kept "writing" into the deleted directory and exited 0
  const std::string dir = tmp_ + "/journal";
  Proc rec = spawn(record_args(dir));
  std::string err;
  ASSERT_TRUE(read_until(rec.err, err, "journaling to", 30s)) << err;
  fs::remove_all(dir);
  const auto code = exit_within(rec.pid, 20s);
  if (!code) kill(rec.pid, SIGKILL);
  ASSERT_TRUE(code.has_value()) << "record did not notice its directory was deleted";
  EXPECT_EQ(*code, 1);
  const std::string rest = read_all(rec.err);
  EXPECT_NE(rest.find("was deleted while recording"), std::string::npos) << rest;
}

}  // namespace
}  // namespace connreset::e2e
