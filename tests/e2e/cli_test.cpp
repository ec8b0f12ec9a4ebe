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
#include "probes/attach_plan.h"
#include "e2e/subprocess.h"
#include "scenarios/netns.h"

namespace connreset::e2e {
namespace {

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    netns_ = private_netns();
    ASSERT_NE(netns_, 0u);
  }
  uint32_t netns_ = 0;
};

TEST_F(Cli, TraceJson_ExplainsTheResetWithTheDesignFields) {
  Proc c = spawn({CONNRESET_BINARY, "trace", "--json", "--duration", "8", "--probes",
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
  Proc c = spawn({CONNRESET_BINARY, "doctor", "--probes", family_name()});
  const std::string out = read_all(c.out);
  EXPECT_EQ(wait_exit(c.pid), 0) << out;
  EXPECT_NE(out.find("verdict: tracing works"), std::string::npos) << out;
  EXPECT_NE(out.find("reset_sent"), std::string::npos);
}

// A tracer checks only what its plan can reach (no symbol table or kprobe trial when auto finds
// everything before kprobes): the plan must be the one the full check gives, for every family.
TEST(AttachPlanOnThisKernel, CheckingOnlyWhatThePlanReaches_GivesTheSamePlanAsCheckingEverything) {
  const KernelFeatures everything = detect_features();
  for (const FamilyChoice choice :
       {FamilyChoice::Auto, FamilyChoice::Tracepoint, FamilyChoice::Fentry, FamilyChoice::Kprobe}) {
    const AttachPlan full = make_attach_plan(everything, choice);
    const AttachPlan lean = plan_for_running_kernel(choice);
    SCOPED_TRACE(::testing::Message() << "family " << static_cast<int>(choice));
    EXPECT_EQ(lean.problems, full.problems);
    EXPECT_EQ(lean.programs(), full.programs());
    ASSERT_EQ(lean.entries.size(), full.entries.size());
    for (size_t i = 0; i < full.entries.size(); ++i) {
      EXPECT_EQ(lean.entries[i].chosen, full.entries[i].chosen) << full.entries[i].probe->name;
      EXPECT_EQ(lean.entries[i].why, full.entries[i].why) << full.entries[i].probe->name;
    }
  }
}

TEST_F(Cli, UnknownOption_ClearErrorNonZeroExit) {
  Proc c = spawn({CONNRESET_BINARY, "trace", "--no-such-option"});
  const std::string err = read_all(c.err);
  EXPECT_NE(wait_exit(c.pid), 0);
  EXPECT_NE(err.find("no-such-option"), std::string::npos) << err;
}

TEST_F(Cli, BadNetnsPath_ClearErrorNonZeroExit) {
  Proc c = spawn({CONNRESET_BINARY, "trace", "--netns", "/no/such/ns", "--duration", "1"});
  const std::string err = read_all(c.err);
  EXPECT_EQ(wait_exit(c.pid), 2);
  EXPECT_NE(err.find("/no/such/ns"), std::string::npos) << err;
}

TEST_F(Cli, Unprivileged_DoctorNamesTheMissingCapability) {
  // drop to nobody in the child: doctor must say what is missing and fail
  Proc c = spawn({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                   "--inh-caps=-all", CONNRESET_BINARY, "doctor"});
  const std::string out = read_all(c.out);
  EXPECT_EQ(wait_exit(c.pid), 1) << out;
  EXPECT_NE(out.find("CAP_BPF"), std::string::npos) << out;
  EXPECT_NE(out.find("run as root"), std::string::npos) << out;
  // the ring buffer probe fails for want of privileges, not for the kernel's age
  EXPECT_EQ(out.find("needs kernel 5.8+"), std::string::npos) << out;
  EXPECT_NE(out.find("not checked: creating BPF maps needs the privileges above"), std::string::npos) << out;
}

}  // namespace
}  // namespace connreset::e2e
