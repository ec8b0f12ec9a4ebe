#pragma once
#include <map>
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
  // kernel functions connreset may hook: name -> parameter count per BTF
  std::map<std::string, int> btf_funcs;
  int tcp_set_state_btf_id = -1;  // where the fentry trial attaches
  std::set<std::string> kallsyms;  // of those, the ones with a symbol (kprobe-able)
  // a real trial attach of one small program per family: "" = works, else why not
  std::string fentry_error = "not tried";
  std::string kprobe_error = "not tried";

  bool has_tracepoint(const std::string& name) const { return btf_tracepoints.count(name) > 0; }
  bool fentry_ok() const { return fentry_error.empty(); }
  bool kprobe_ok() const { return kprobe_error.empty(); }
  int func_params(const std::string& name) const {
    auto it = btf_funcs.find(name);
    return it == btf_funcs.end() ? -1 : it->second;
  }
};

// Everything (doctor). trial: also load and attach a small fentry and kprobe program, and one
// of connreset's own kprobe programs (needs privileges).
KernelFeatures detect_features(bool trial = true);

// The parts, for a caller that checks only what it needs (plan_for_running_kernel): each
// check costs a parse of the kernel's BTF or symbol table - seconds in an emulated VM.
KernelFeatures detect_basic_features();  // no trial attach, no symbol table
void detect_fentry(KernelFeatures& f);   // trial attach of an fentry program
void detect_kprobes(KernelFeatures& f);  // the symbol table, and a trial attach of a minimal kprobe

// Loads only `program` from connreset's BPF object and attaches it: "" or the error.
std::string trial_attach(const char* program);
// Loads and attaches a minimal fentry program at the kernel function `btf_id`: "" or the error.
std::string trial_attach_fentry(int btf_id);
// Loads a minimal kprobe program and attaches it at `function`: "" or the error.
std::string trial_attach_kprobe(const char* function);

}  // namespace connreset
