#include "probes/features.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

namespace connreset {
namespace {

constexpr long kTracefsMagic = 0x74726163;
constexpr long kBpffsMagic = 0xcafe4a11;
constexpr long kDebugfsMagic = 0x64626720;

bool mounted_as(const char* path, long magic) {
  struct statfs st {};
  return statfs(path, &st) == 0 && static_cast<long>(st.f_type) == magic;
}

// The tracepoints connreset may use; each is looked up as btf_trace_<name>.
constexpr std::array<const char*, 6> kTracepoints = {
    "tcp_send_reset", "tcp_receive_reset", "inet_sock_set_state", "sock_recv_length",
    "sock_send_length", "tcp_destroy_sock"};

// The kernel functions the fentry and kprobe families hook.
constexpr std::array<const char*, 10> kFunctions = {
    "tcp_send_active_reset", "tcp_v4_send_reset", "tcp_v6_send_reset", "tcp_reset",   "tcp_set_state",
    "__tcp_close",           "tcp_recvmsg",       "tcp_sendmsg",       "tcp_disconnect",
    "tcp_v4_destroy_sock"};

// /proc/kallsyms is ~200,000 lines: read line by line and look at the name only for text
// symbols ("addr t name [module]"), without splitting every line into strings.
void probe_kallsyms(KernelFeatures& f) {
  std::ifstream in("/proc/kallsyms");
  std::string line;
  while (std::getline(in, line)) {
    const size_t type = line.find(' ');
    if (type == std::string::npos || type + 2 >= line.size() || (line[type + 1] | 0x20) != 't') continue;
    const size_t start = type + 3;
    size_t end = line.find_first_of(" \t", start);
    if (end == std::string::npos) end = line.size();
    const std::string_view name(line.data() + start, end - start);
    for (const char* fn : kFunctions) {
      if (name == fn) f.kallsyms.insert(std::string(name));
    }
  }
}

void probe_btf(KernelFeatures& f) {
  struct btf* btf = btf__load_vmlinux_btf();
  if (!btf) {
    f.btf_error = std::strerror(errno);
    return;
  }
  f.btf = true;
  for (const char* tp : kTracepoints) {
    const std::string name = std::string("btf_trace_") + tp;
    const int id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_TYPEDEF);
    if (id < 0) continue;
    f.btf_tracepoints.insert(tp);
    if (std::strcmp(tp, "tcp_send_reset") == 0) {
      // typedef -> pointer -> func proto; the first parameter is the tracing context
      const struct btf_type* t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
      if (t && btf_is_ptr(t)) t = btf__type_by_id(btf, t->type);
      if (t && btf_is_func_proto(t)) f.tcp_send_reset_args = btf_vlen(t) - 1;
    }
  }
  f.rst_reason_enum = btf__find_by_name_kind(btf, "sk_rst_reason", BTF_KIND_ENUM) >= 0;
  for (const char* fn : kFunctions) {
    const int id = btf__find_by_name_kind(btf, fn, BTF_KIND_FUNC);
    if (id < 0) continue;
    const struct btf_type* proto = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
    f.btf_funcs[fn] = proto && btf_is_func_proto(proto) ? btf_vlen(proto) : -1;
    if (std::strcmp(fn, "tcp_set_state") == 0) f.tcp_set_state_btf_id = id;
  }
  btf__free(btf);
}

void probe_caps(KernelFeatures& f) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, 2> data{};
  if (syscall(SYS_capget, &hdr, data.data()) != 0) {
    f.missing_caps = {"CAP_BPF", "CAP_PERFMON"};
    return;
  }
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1U; };
  constexpr int kCapSysAdmin = 21, kCapPerfmon = 38, kCapBpf = 39;
  if (has(kCapSysAdmin)) {
    f.privileged = true;
    return;
  }
  if (!has(kCapBpf)) f.missing_caps.push_back("CAP_BPF");
  if (!has(kCapPerfmon)) f.missing_caps.push_back("CAP_PERFMON");
  f.privileged = f.missing_caps.empty();
}

}  // namespace

KernelFeatures detect_basic_features() {
  KernelFeatures f;
  struct utsname u {};
  if (uname(&u) == 0) f.release = u.release;
  probe_btf(f);
  probe_caps(f);
  f.tracefs = mounted_as("/sys/kernel/tracing", kTracefsMagic) ||
              mounted_as("/sys/kernel/debug/tracing", kTracefsMagic) ||
              mounted_as("/sys/kernel/debug", kDebugfsMagic);
  f.bpffs = mounted_as("/sys/fs/bpf", kBpffsMagic);
  f.ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1;
  // kprobe support shows as a perf PMU (and in tracefs); absent when CONFIG_KPROBES is off
  f.kprobes = std::filesystem::exists("/sys/bus/event_source/devices/kprobe");
  return f;
}

void detect_fentry(KernelFeatures& f) {
  if (!f.privileged || !f.btf) return;
  f.fentry_error = f.tcp_set_state_btf_id < 0 ? "tcp_set_state not in BTF" : trial_attach_fentry(f.tcp_set_state_btf_id);
}

void detect_kprobes(KernelFeatures& f) {
  probe_kallsyms(f);
  if (!f.privileged || !f.btf) return;
  f.kprobe_error = !f.kprobes ? "kernel without kprobes (CONFIG_KPROBES off)" : trial_attach_kprobe("tcp_set_state");
}

KernelFeatures detect_features(bool trial) {
  KernelFeatures f = detect_basic_features();
  if (trial) {
    detect_fentry(f);
    detect_kprobes(f);
    // and one of connreset's own kprobe programs, CO-RE relocations and all: a tracer trusts
    // the minimal trial, and the e2e test AttachPlanOnThisKernel checks on every test kernel
    // that both say the same
    if (f.kprobe_ok()) f.kprobe_error = trial_attach("kp_set_state");
  } else {
    probe_kallsyms(f);
  }
  return f;
}

}  // namespace connreset
