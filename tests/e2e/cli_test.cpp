// The connreset binary itself, as a user runs it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "e2e/harness.h"
#include "scenarios/netns.h"

namespace connreset::e2e {
namespace {

struct Child {
  pid_t pid = -1;
  int out = -1;  // stdout
  int err = -1;  // stderr
};

Child spawn(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return {};
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  c.out = out[0];
  c.err = err[0];
  return c;
}

// Reads one line from fd, waiting up to timeout. "" at EOF/timeout.
std::string read_line(int fd, std::string& buffer, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer.find('\n'); nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
    char chunk[4096];
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0) return "";
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

std::string read_all(int fd) {
  std::string s;
  char chunk[4096];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof(chunk))) > 0) s.append(chunk, static_cast<size_t>(n));
  return s;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    netns_ = private_netns();
    ASSERT_NE(netns_, 0u);
  }
  uint32_t netns_ = 0;
};

TEST_F(Cli, TraceJson_ExplainsTheResetWithTheDesignFields) {
  Child c = spawn({CONNRESET_BINARY, "trace", "--json", "--duration", "8", "--probes",
                   family_name(), "--settle-ms", "200", "--netns", std::to_string(netns_)});
  ASSERT_GT(c.pid, 0);
  std::string buf;
  const std::string meta_line = read_line(c.out, buf, std::chrono::seconds(20));
  ASSERT_FALSE(meta_line.empty()) << "no meta line; stderr: " << read_all(c.err);
  const auto meta = nlohmann::json::parse(meta_line);
  EXPECT_EQ(meta["type"], "meta");
  EXPECT_TRUE(meta["probes"].contains("reset_sent"));

  const ScenarioOutcome o = run_unread_data_at_close();
  ASSERT_TRUE(o.ok()) << o.error;
  nlohmann::json reset;
  for (std::string line; !(line = read_line(c.out, buf, std::chrono::seconds(10))).empty();) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "reset" && j["remote"]["port"] == o.server_port) {
      reset = j;
      break;
    }
  }
  kill(c.pid, SIGINT);  // also proves SIGINT ends tracing cleanly
  const std::string rest = read_all(c.out);
  EXPECT_EQ(wait_exit(c.pid), 0);
  ASSERT_FALSE(reset.is_null()) << "no reset line for port " << o.server_port;
  EXPECT_EQ(reset["schema"], "connreset/1");
  EXPECT_EQ(reset["cause"], "unread_data_at_close");
  EXPECT_EQ(reset["sender"]["pid"], o.server_pid);
  EXPECT_EQ(reset["sender"]["comm"], "cr-server");
  EXPECT_EQ(reset["receiver"]["pid"], o.client_pid);
  EXPECT_EQ(reset["receiver"]["comm"], "cr-client");
  EXPECT_EQ(reset["unread_bytes"], kUnreadScenarioBytes);
  EXPECT_EQ(reset["closer"]["kind"], "close");
  EXPECT_EQ(reset["netns"], netns_);
  EXPECT_NE(rest.find("\"type\":\"stats\""), std::string::npos) << "no stats line at exit";
}

TEST_F(Cli, Doctor_SaysTracingWorks) {
  Child c = spawn({CONNRESET_BINARY, "doctor", "--probes", family_name()});
  const std::string out = read_all(c.out);
  EXPECT_EQ(wait_exit(c.pid), 0) << out;
  EXPECT_NE(out.find("verdict: tracing works"), std::string::npos) << out;
  EXPECT_NE(out.find("reset_sent"), std::string::npos);
}

TEST_F(Cli, UnknownOption_ClearErrorNonZeroExit) {
  Child c = spawn({CONNRESET_BINARY, "trace", "--no-such-option"});
  const std::string err = read_all(c.err);
  EXPECT_NE(wait_exit(c.pid), 0);
  EXPECT_NE(err.find("no-such-option"), std::string::npos) << err;
}

TEST_F(Cli, BadNetnsPath_ClearErrorNonZeroExit) {
  Child c = spawn({CONNRESET_BINARY, "trace", "--netns", "/no/such/ns", "--duration", "1"});
  const std::string err = read_all(c.err);
  EXPECT_EQ(wait_exit(c.pid), 2);
  EXPECT_NE(err.find("/no/such/ns"), std::string::npos) << err;
}

TEST_F(Cli, Unprivileged_DoctorNamesTheMissingCapability) {
  // drop to nobody in the child: doctor must say what is missing and fail
  Child c = spawn({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                   "--inh-caps=-all", CONNRESET_BINARY, "doctor"});
  const std::string out = read_all(c.out);
  EXPECT_EQ(wait_exit(c.pid), 1) << out;
  EXPECT_NE(out.find("CAP_BPF"), std::string::npos) << out;
  EXPECT_NE(out.find("run as root"), std::string::npos) << out;
}

}  // namespace
}  // namespace connreset::e2e
