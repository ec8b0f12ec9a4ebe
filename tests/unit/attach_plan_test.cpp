#include "probes/attach_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

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
  EXPECT_EQ(entry(p, "recv_result").chosen->programs.front(), "tp_recv_length");
  EXPECT_FALSE(p.uses(ProbeFamily::Kprobe));
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

KernelFeatures kernel_6_1() {
  KernelFeatures f = kernel_6_18();
  f.release = "6.1.0";
  f.tcp_send_reset_args = 2;
  f.rst_reason_enum = false;
  f.btf_tracepoints = {"tcp_send_reset", "tcp_receive_reset", "inet_sock_set_state"};
  f.btf_funcs = {{"tcp_send_active_reset", 2}, {"tcp_v4_send_reset", 2}, {"tcp_v6_send_reset", 2},
                 {"tcp_reset", 2},  {"tcp_set_state", 2},  {"__tcp_close", 2},
                 {"tcp_recvmsg", 5}, {"tcp_sendmsg", 3}};
  for (const auto& [fn, n] : f.btf_funcs) f.kallsyms.insert(fn);
  f.fentry_error = "";
  f.kprobe_error = "";
  return f;
}

TEST(AttachPlan, Kernel61Auto_TracepointsWhereTheySuffice_FentryForResetsAndRecv) {
  const AttachPlan p = make_attach_plan(kernel_6_1(), FamilyChoice::Auto);
  ASSERT_TRUE(p.usable()) << p.problems.front();
  // fentry on tcp_reset(sk, skb) sees the RST segment (flags) where the tracepoint cannot
  EXPECT_EQ(entry(p, "reset_received").chosen->programs.front(), "fe_reset_skb");
  EXPECT_EQ(entry(p, "reset_sent").chosen->family, ProbeFamily::Fentry);
  EXPECT_NE(entry(p, "reset_sent").why.find("6.10"), std::string::npos) << "says why the tracepoint lost";
  EXPECT_EQ(entry(p, "recv_result").chosen->programs.front(), "fx_recvmsg");
  const auto progs = p.programs();
  EXPECT_NE(std::find(progs.begin(), progs.end(), "fe_v6_send_reset"), progs.end()) << "optional v6 attached";
}

TEST(AttachPlan, Kernel510_TcpResetWithoutSkb_TracepointInAuto_OneArgumentFentryWhenForced) {
  KernelFeatures f = kernel_6_1();
  f.btf_funcs["tcp_reset"] = 1;
  EXPECT_EQ(entry(make_attach_plan(f, FamilyChoice::Auto), "reset_received").chosen->programs.front(),
            "tp_receive_reset");
  EXPECT_EQ(entry(make_attach_plan(f, FamilyChoice::Fentry), "reset_received").chosen->programs.front(),
            "fe_reset");
}

TEST(AttachPlan, Kernel515_RecvmsgWithNonblock_PicksTheMatchingFexit) {
  KernelFeatures f = kernel_6_1();
  f.btf_funcs["tcp_recvmsg"] = 6;
  const AttachPlan p = make_attach_plan(f, FamilyChoice::Fentry);
  ASSERT_TRUE(p.usable());
  EXPECT_EQ(entry(p, "recv_result").chosen->programs.front(), "fx_recvmsg_nb");
}

TEST(AttachPlan, FentryRefused_KprobeFamilyStillWorks_AndKeysByPointer) {
  KernelFeatures f = kernel_6_1();
  f.fentry_error = "load refused: Operation not permitted";
  const AttachPlan fentry = make_attach_plan(f, FamilyChoice::Fentry);
  ASSERT_FALSE(fentry.usable());
  EXPECT_NE(fentry.problems.front().find("Operation not permitted"), std::string::npos);
  const AttachPlan kprobe = make_attach_plan(f, FamilyChoice::Kprobe);
  ASSERT_TRUE(kprobe.usable());
  EXPECT_TRUE(kprobe.uses(ProbeFamily::Kprobe));
  const auto progs = kprobe.programs();
  EXPECT_NE(std::find(progs.begin(), progs.end(), "kr_recvmsg"), progs.end());
}

TEST(AttachPlan, ForcedTracepointOn61_UnusableWithTheReason) {
  const AttachPlan p = make_attach_plan(kernel_6_1(), FamilyChoice::Tracepoint);
  ASSERT_FALSE(p.usable());
  EXPECT_NE(p.problems.front().find("reset_sent"), std::string::npos);
}

TEST(AttachPlan, ParseFamily) {
  EXPECT_EQ(parse_family_choice("kprobe"), FamilyChoice::Kprobe);
  EXPECT_FALSE(parse_family_choice("uprobe"));
}

}  // namespace
}  // namespace connreset
