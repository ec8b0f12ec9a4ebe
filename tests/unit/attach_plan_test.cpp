#include "probes/attach_plan.h"

#include <gtest/gtest.h>

namespace connreset {
namespace {

KernelFeatures kernel_6_18() {
  KernelFeatures f;
  f.release = "6.18.0";
  f.btf = true;
  f.privileged = true;
  f.ringbuf = true;
  f.tcp_send_reset_args = 3;
  f.rst_reason_enum = true;
  f.btf_tracepoints = {"tcp_send_reset", "tcp_receive_reset", "inet_sock_set_state",
                       "sock_recv_length", "sock_send_length"};
  return f;
}

const PlanEntry& entry(const AttachPlan& p, std::string_view name) {
  for (const PlanEntry& e : p.entries) {
    if (e.probe->name == name) return e;
  }
  throw std::out_of_range(std::string(name));
}

TEST(AttachPlan, Kernel618_AllTracepoints) {
  const AttachPlan p = make_attach_plan(kernel_6_18(), FamilyChoice::Auto);
  EXPECT_TRUE(p.usable());
  const auto progs = p.programs();
  EXPECT_EQ(progs.size(), 5u);
  EXPECT_EQ(entry(p, "recv_result").chosen->program, "tp_recv_length");
}

TEST(AttachPlan, NoRecvTracepoint_StillUsableWithoutRecvResults) {
  KernelFeatures f = kernel_6_18();
  f.btf_tracepoints.erase("sock_recv_length");
  const AttachPlan p = make_attach_plan(f, FamilyChoice::Tracepoint);
  EXPECT_TRUE(p.usable());
  EXPECT_EQ(entry(p, "recv_result").chosen, nullptr);
  EXPECT_NE(entry(p, "recv_result").why.find("6.3"), std::string::npos);
}

TEST(AttachPlan, OldResetTracepoint_TracepointFamilyUnusableWithReason) {
  KernelFeatures f = kernel_6_18();
  f.tcp_send_reset_args = 2;
  const AttachPlan p = make_attach_plan(f, FamilyChoice::Tracepoint);
  ASSERT_FALSE(p.usable());
  EXPECT_NE(p.problems.front().find("6.10"), std::string::npos) << p.problems.front();
}

TEST(AttachPlan, Unprivileged_SaysRunAsRoot) {
  KernelFeatures f = kernel_6_18();
  f.privileged = false;
  f.missing_caps = {"CAP_BPF", "CAP_PERFMON"};
  const AttachPlan p = make_attach_plan(f, FamilyChoice::Auto);
  ASSERT_FALSE(p.usable());
  EXPECT_NE(p.problems.front().find("root"), std::string::npos);
  EXPECT_NE(p.problems.front().find("CAP_BPF"), std::string::npos);
}

TEST(AttachPlan, NoBtf_Unusable) {
  KernelFeatures f = kernel_6_18();
  f.btf = false;
  f.btf_error = "No such file or directory";
  const AttachPlan p = make_attach_plan(f, FamilyChoice::Auto);
  EXPECT_FALSE(p.usable());
}

TEST(AttachPlan, ParseFamily) {
  EXPECT_EQ(parse_family_choice("kprobe"), FamilyChoice::Kprobe);
  EXPECT_FALSE(parse_family_choice("uprobe"));
}

}  // namespace
}  // namespace connreset
