#pragma once
#include <set>
#include <string>
#include <vector>

namespace connreset {

// What the running kernel offers, probed once at start. Everything the
// attach plan and `doctor` decide is derived from this.
struct KernelFeatures {
  std::string release;           // uname -r
  bool btf = false;              // /sys/kernel/btf/vmlinux loads
  std::string btf_error;
  bool tracefs = false;          // mounted (classic tracepoints need it)
  bool bpffs = false;
  bool privileged = false;       // CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN)
  std::vector<std::string> missing_caps;
  bool ringbuf = false;          // BPF_MAP_TYPE_RINGBUF (5.8+)
  std::set<std::string> btf_tracepoints;  // tracepoints with a btf_trace_<name> type (tp_btf)
  int tcp_send_reset_args = 0;   // 3 on 6.10+ (sk, skb, reason), 2 before
  bool rst_reason_enum = false;  // enum sk_rst_reason
  bool kprobes = false;          // the kernel has kprobe support
  bool fentry_probe_done = false;

  bool has_tracepoint(const std::string& name) const { return btf_tracepoints.count(name) > 0; }
};

KernelFeatures detect_features();

}  // namespace connreset
