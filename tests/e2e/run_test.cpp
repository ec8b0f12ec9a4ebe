// connreset run -- CMD: the command CI uses, as a user runs it. The commands
// are steps of this binary (tests/e2e/run_helper.cpp), so the VMs run them too.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands/commands.h"
#include "e2e/harness.h"
#include "e2e/subprocess.h"
#include "probes/attach_plan.h"
#include "probes/features.h"
#include "probes/tracer.h"
#include "run/process_tree.h"
#include "scenarios/scenarios.h"

namespace connreset::e2e {
namespace {

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

std::string temp_path(const std::string& name) {
  return "/tmp/connreset-run-" + std::to_string(getpid()) + "-" + name;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RunResult {
  int code = -1;
  std::string out;  // CMD's stdout, passed through
  std::string err;  // connreset's reports (JSON lines) and CMD's stderr
  std::vector<nlohmann::json> resets, findings;
  nlohmann::json run;  // the closing "run" line
};

std::vector<std::string> run_args(const std::vector<std::string>& options, const std::vector<std::string>& cmd) {
  std::vector<std::string> args{CONNRESET_BINARY, "run", "--json", "--probes", family_name(), "--settle-ms", "300"};
  args.insert(args.end(), options.begin(), options.end());
  args.emplace_back("--");
  args.insert(args.end(), cmd.begin(), cmd.end());
  return args;
}

void parse_lines(RunResult& r) {
  std::istringstream in(r.err);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{') continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    if (j["type"] == "reset") r.resets.push_back(j);
    if (j["type"] == "finding") r.findings.push_back(j);
    if (j["type"] == "run") r.run = j;
  }
}

RunResult finish(Proc p, std::string err_so_far = "") {
  RunResult r;
  r.out = read_all(p.out);
  r.err = err_so_far + read_all(p.err);
  r.code = wait_exit(p.pid);
  close(p.out);
  close(p.err);
  parse_lines(r);
  return r;
}

RunResult run(const std::vector<std::string>& options, const std::vector<std::string>& cmd) {
  Proc p = spawn(run_args(options, cmd));
  EXPECT_GT(p.pid, 0);
  return finish(p);
}

// Waits for the meta line: connreset has attached, CMD is about to start.
std::string wait_attached(const Proc& p) {
  std::string buf, seen;
  for (std::string line; !(line = read_line(p.err, buf, std::chrono::seconds(30))).empty();) {
    seen += line + "\n";
    if (line.find("\"type\":\"meta\"") != std::string::npos) return seen + buf;
  }
  ADD_FAILURE() << "connreset run never attached; stderr so far:\n" << seen;
  return seen + buf;
}

class Run : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(private_netns(), 0u); }
  const std::string self_ = self_exe();
};

// The kernel side alone: what the tree map holds after forks, threads and exits.
TEST(RunTree, ProgramsLoadOnlyForRun_ForksJoinThreadsDoNot_ExitsAreMarked) {
  const AttachPlan plan = plan_for_running_kernel(family());
  auto has = [](const Tracer& t, const char* program) {
    const auto& a = t.attached();
    return std::find(a.begin(), a.end(), program) != a.end();
  };
  TracerOptions opt;
  {
    Tracer plain(plan, opt);  // what trace/record/demo load
    EXPECT_FALSE(has(plain, "tree_newtask"));
    EXPECT_FALSE(has(plain, "tree_exit"));
    EXPECT_EQ(plain.tree_map_fd(), -1);
  }
  opt.track_tree = true;
  Tracer tracer(plan, opt);
  EXPECT_TRUE(has(tracer, "tree_newtask"));
  EXPECT_TRUE(has(tracer, "tree_exit"));
  ProcessTree tree;
  tree.attach(tracer.tree_map_fd());
  // this test process is the seed: its child and grandchild join, a thread does not
  ASSERT_EQ(tree.seed(static_cast<uint32_t>(getpid()), 0), 0);
  std::thread([] {}).join();
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t child = fork();
  if (child == 0) {
    const pid_t grandchild = fork();
    if (grandchild == 0) _exit(0);
    ssize_t w = write(pipefd[1], &grandchild, sizeof(grandchild));
    waitpid(grandchild, nullptr, 0);
    _exit(w == sizeof(grandchild) ? 0 : 1);
  }
  pid_t grandchild = 0;
  ASSERT_EQ(read(pipefd[0], &grandchild, sizeof(grandchild)), static_cast<ssize_t>(sizeof(grandchild)));
  EXPECT_EQ(wait_exit(child), 0);
  close(pipefd[0]);
  close(pipefd[1]);
  ASSERT_EQ(tree.refresh(), 0);
  const auto& m = tree.members();
  ASSERT_TRUE(m.count(static_cast<uint32_t>(child)));
  ASSERT_TRUE(m.count(static_cast<uint32_t>(grandchild)));
  EXPECT_EQ(m.at(static_cast<uint32_t>(child)).parent, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(m.at(static_cast<uint32_t>(grandchild)).parent, static_cast<uint32_t>(child));
  EXPECT_NE(m.at(static_cast<uint32_t>(child)).exit_ns, 0u);
  EXPECT_NE(m.at(static_cast<uint32_t>(grandchild)).exit_ns, 0u);
  EXPECT_EQ(m.size(), 3u) << "the thread is no process of its own";
  EXPECT_EQ(tree.running(), std::vector<uint32_t>{static_cast<uint32_t>(getpid())});
  EXPECT_FALSE(tree.contains(1));
  EXPECT_EQ(tracer.tree_untracked(), 0u);
}

TEST_F(Run, ChildClosesWithUnreadData_ReportedFailOnAnyExitsWithItsCodeAndJUnitFailure) {
  const std::string junit = temp_path("unread.xml");
  const RunResult r = run({"--fail-on", "any", "--junit", junit}, {self_, "--run-helper", "unread-pair"});
  EXPECT_EQ(r.code, kRunExitFailOn) << r.err;
  ASSERT_EQ(r.resets.size(), 1u) << r.err;
  const auto& x = r.resets[0];
  EXPECT_EQ(x["cause"], "unread_data_at_close");
  EXPECT_EQ(x["sender"]["comm"], "cr-server");
  EXPECT_EQ(x["receiver"]["comm"], "cr-client");
  EXPECT_EQ(x["unread_bytes"], kUnreadScenarioBytes);
  EXPECT_NE(r.out.find("port "), std::string::npos) << "CMD's stdout was not passed through";
  ASSERT_FALSE(r.run.is_null()) << r.err;
  EXPECT_EQ(r.run["exit_code"], 0);  // CMD itself succeeded
  EXPECT_EQ(r.run["failed"], true);
  EXPECT_GE(r.run["processes"].get<int>(), 3);  // the helper, cr-server, cr-client
  EXPECT_NE(r.err.find("--fail-on any matched"), std::string::npos) << r.err;
  const std::string xml = slurp(junit);
  EXPECT_NE(xml.find("<testsuites name=\"connreset\" tests=\"1\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<failure type=\"unread_data_at_close\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("20,000 unread bytes"), std::string::npos) << xml;
  unlink(junit.c_str());
}

TEST_F(Run, CleanCommand_ExitsZeroJUnitWithoutFailures) {
  const std::string junit = temp_path("clean.xml");
  const RunResult r = run({"--fail-on", "any", "--junit", junit}, {self_, "--run-helper", "clean-pair"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.resets.empty()) << r.err;
  EXPECT_TRUE(r.findings.empty()) << r.err;
  const std::string xml = slurp(junit);
  EXPECT_NE(xml.find("failures=\"0\""), std::string::npos) << xml;
  EXPECT_EQ(xml.find("<failure"), std::string::npos) << xml;
  unlink(junit.c_str());
}

TEST_F(Run, ResetBetweenProcessesOutsideTheTree_AtTheSameTime_NotReported) {
  const std::string go = temp_path("go");
  Proc p = spawn(run_args({}, {self_, "--run-helper", "wait-file", go, "unread-pair"}));
  ASSERT_GT(p.pid, 0);
  const std::string err = wait_attached(p);
  // the same kind of reset, by two processes of this test (not of CMD's tree), while run traces
  const ScenarioOutcome outside = run_unread_data_at_close();
  ASSERT_TRUE(outside.ok()) << outside.error;
  std::ofstream(go) << "go\n";
  const RunResult r = finish(p, err);
  unlink(go.c_str());
  EXPECT_EQ(r.code, 0) << r.err;
  unsigned tree_port = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "port %u", &tree_port), 1) << r.out;
  // Under a plan with kprobes sockets are keyed by address (no cookies): a socket of the outside
  // pair freed and reused by the tree's pair can hand the outside reset a tree member as sender
  // (the known kprobe limit in the README). There only the tree's own reset is asserted.
  if (r.err.find("[kprobe]") != std::string::npos) {
    ASSERT_FALSE(r.resets.empty()) << r.err;
    EXPECT_TRUE(std::any_of(r.resets.begin(), r.resets.end(),
                            [&](const auto& x) { return x["remote"]["port"] == tree_port; }))
        << r.err;
    return;
  }
  ASSERT_EQ(r.resets.size(), 1u) << "only the tree's reset; stderr:\n" << r.err;
  EXPECT_EQ(r.resets[0]["remote"]["port"], tree_port);
  for (const auto& x : r.resets) {
    EXPECT_NE(x["remote"]["port"], outside.server_port) << "reset outside the tree reported: " << x.dump();
    EXPECT_NE(x["sender"]["pid"], outside.server_pid);
  }
}

TEST_F(Run, ShellScriptForksExecsAndDoubleForksAServer_ItsResetIsAttributedToTheTree) {
  const std::string portfile = temp_path("port");
  unlink(portfile.c_str());
  // sh forks the helper, which forks, setsid()s, forks again and execs the
  // server; the server's parent is then init, its session its own
  Proc p = spawn(run_args({"--fail-on", "unread_data_at_close"},
                          {"sh", "-c", "\"$0\" --run-helper daemonize unread-server \"$1\"; exit 0", self_, portfile}));
  ASSERT_GT(p.pid, 0);
  unsigned port = 0, server_pid = 0;
  for (int i = 0; i < 3000 && port == 0; ++i) {
    std::ifstream in(portfile);
    if (!(in >> port >> server_pid)) port = 0;
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(port, 0u) << "the server never started";
  // this test process is the client: outside the tree
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
  const std::string payload(20000, 'x');
  ASSERT_EQ(send(fd, payload.data(), payload.size(), 0), static_cast<ssize_t>(payload.size()));
  char c;
  const ssize_t n = recv(fd, &c, 1, 0);
  const int recv_errno = errno;
  close(fd);
  const RunResult r = finish(p);
  unlink(portfile.c_str());
  EXPECT_EQ(n, -1);
  EXPECT_EQ(recv_errno, ECONNRESET);
  EXPECT_EQ(r.code, kRunExitFailOn) << r.err;
  ASSERT_EQ(r.resets.size(), 1u) << r.err;
  EXPECT_EQ(r.resets[0]["cause"], "unread_data_at_close");
  EXPECT_EQ(r.resets[0]["sender"]["pid"], server_pid);
  EXPECT_EQ(r.resets[0]["receiver"]["pid"], getpid());
  ASSERT_FALSE(r.run.is_null()) << r.err;
  EXPECT_EQ(r.run["exit_code"], 0);
  EXPECT_GE(r.run["processes"].get<int>(), 4) << "sh, the helper, its child, the server";
  EXPECT_TRUE(r.run["left_running"].empty());
}

TEST_F(Run, CommandsExitCodeIsPassedThrough) {
  EXPECT_EQ(run({"--fail-on", "any"}, {self_, "--run-helper", "exit", "7"}).code, 7);
  EXPECT_EQ(run({}, {"sh", "-c", "kill -TERM $$"}).code, 128 + SIGTERM);
  const RunResult missing = run({}, {"/nonexistent/connreset-cmd"});
  EXPECT_EQ(missing.code, kRunExitNotFound);
  EXPECT_NE(missing.err.find("/nonexistent/connreset-cmd"), std::string::npos) << missing.err;
}

TEST_F(Run, SigintIsForwardedToTheCommand) {
  const std::string marker = temp_path("sigint");
  unlink(marker.c_str());
  Proc p = spawn(run_args({}, {self_, "--run-helper", "wait-signal", marker}));
  ASSERT_GT(p.pid, 0);
  std::string buf;
  ASSERT_EQ(read_line(p.out, buf, std::chrono::seconds(30)), "ready");
  kill(p.pid, SIGINT);
  const RunResult r = finish(p);
  EXPECT_EQ(r.code, 42) << r.err;  // the command's own answer to SIGINT
  EXPECT_EQ(slurp(marker), "SIGINT\n");
  unlink(marker.c_str());
}

// Sets an environment variable for the connreset processes spawned in this scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

TEST_F(Run, UserOption_CommandRunsAsThatUser) {
  // sh, not this binary: a checkout under a 0700 home is not executable by nobody
  const RunResult r = run({"--user", "65534"}, {"sh", "-c", "echo uid=$(id -u) gid=$(id -g)"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("uid=65534 gid=65534"), std::string::npos) << r.out;
}

TEST_F(Run, UnderSudo_CommandRunsAsTheInvokingUserWithItsEnvironment) {
  ScopedEnv uid("SUDO_UID", "65534"), gid("SUDO_GID", "65533"), mark("CONNRESET_RUN_MARK", "kept");
  const RunResult r = run({}, {"sh", "-c", "echo uid=$(id -u) gid=$(id -g) mark=$CONNRESET_RUN_MARK"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("uid=65534 gid=65533 mark=kept"), std::string::npos) << r.out;
}

TEST_F(Run, GraceEndsTheWaitForADaemonLeftRunning) {
  const auto start = std::chrono::steady_clock::now();
  // the daemon lets go of stdout/stderr: they are this test's pipes, read to EOF
  const RunResult r = run({"--grace", "1"}, {"sh", "-c", "(sleep 30 </dev/null >/dev/null 2>&1 &); exit 5"});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.code, 5) << r.err;
  ASSERT_FALSE(r.run.is_null()) << r.err;
  ASSERT_EQ(r.run["left_running"].size(), 1u) << r.err;
  const pid_t daemon = r.run["left_running"][0].get<pid_t>();
  EXPECT_EQ(kill(daemon, SIGKILL), 0) << "the pid named is the sleep left running";
  EXPECT_LT(took, std::chrono::seconds(20)) << "did not wait for the 30 s sleep";
  EXPECT_NE(r.err.find("waiting for 1 process of its tree"), std::string::npos) << r.err;
}

TEST_F(Run, RecordAndGithubAnnotations_TheTreesResetInBoth) {
  const std::string dir = temp_path("journal");
  ScopedEnv gha("GITHUB_ACTIONS", "true");
  const RunResult r = run({"--fail-on", "unread_data_at_close", "--record", dir}, {self_, "--run-helper", "unread-pair"});
  EXPECT_EQ(r.code, kRunExitFailOn) << r.err;
  // the text block's first line: the time, then RESET
  const size_t note = r.out.find("\n::error title=connreset%3A unread_data_at_close::");
  EXPECT_NE(note, std::string::npos) << "one annotation on stdout after CMD's output:\n" << r.out;
  EXPECT_NE(r.out.find(" RESET 127.0.0.1:", note == std::string::npos ? 0 : note), std::string::npos) << r.out;
  Proc rep = spawn({CONNRESET_BINARY, "report", "--json", dir});
  const std::string out = read_all(rep.out);
  const std::string err = read_all(rep.err);
  EXPECT_EQ(wait_exit(rep.pid), 0) << err;
  EXPECT_NE(out.find("\"cause\":\"unread_data_at_close\""), std::string::npos) << out << err;
  EXPECT_NE(out.find("\"comm\":\"cr-server\""), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

TEST_F(Run, BadFailOnItem_ClearErrorDocumentedCode) {
  const RunResult r = run({"--fail-on", "any,no_such_cause"}, {"true"});
  EXPECT_EQ(r.code, kRunExitInternal);
  EXPECT_NE(r.err.find("no_such_cause"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unread_data_at_close"), std::string::npos) << "the valid ids are listed: " << r.err;
}

}  // namespace
}  // namespace connreset::e2e
