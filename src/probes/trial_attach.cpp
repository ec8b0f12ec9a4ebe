#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <string>

#include "connreset.skel.h"
#include "probes/features.h"

namespace connreset {
namespace {

// libbpf's messages during the trial, kept (not printed) to say why a load was refused.
std::string g_trial_log;

int collect(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  va_list copy;
  va_copy(copy, args);
  const int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0 || g_trial_log.size() > 65536) return 0;
  std::string line(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(line.data(), line.size(), fmt, args);
  line.pop_back();
  g_trial_log += line;
  return 0;
}

// The verifier names a helper this program type may not call ("unknown func
// bpf_get_socket_cookie#46"): on 5.10, tracing programs lack bpf_get_socket_cookie (5.12) and
// bpf_sk_storage_get (5.11), so fentry is refused although the kernel has fentry.
std::string refused_helper(const std::string& log) {
  static const std::regex unknown_func(R"(unknown func (bpf_[a-z0-9_]+)#[0-9]+)");
  std::smatch m;
  return std::regex_search(log, m, unknown_func) ? m[1].str() : "";
}

}  // namespace

// A trial, not a guess: some kernels list fentry support and still refuse it
// (EPERM at load on the development machines), kprobes may be compiled out.
std::string trial_attach(const char* program) {
  g_trial_log.clear();
  libbpf_print_fn_t previous = libbpf_set_print(collect);
  std::string error;
  connreset_bpf* skel = connreset_bpf__open();
  if (!skel) {
    libbpf_set_print(previous);
    return std::string("cannot open the BPF object: ") + std::strerror(errno);
  }
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel->obj) {
    bpf_program__set_autoload(prog, std::strcmp(bpf_program__name(prog), program) == 0);
  }
  bpf_map__set_max_entries(skel->maps.events, 4096);
  bpf_map__set_max_entries(skel->maps.calls, 16);
  bpf_map__set_max_entries(skel->maps.sock_store, 16);
  bpf_map__set_max_entries(skel->maps.tree_tasks, 1);
  if (int err = connreset_bpf__load(skel); err != 0) {
    error = std::string("load refused: ") + std::strerror(-err);
    if (const std::string helper = refused_helper(g_trial_log); !helper.empty()) {
      error += ": this kernel does not offer the helper " + helper + " to " + program +
               "'s program type";
    }
  } else {
    bpf_link* link = bpf_program__attach(bpf_object__find_program_by_name(skel->obj, program));
    if (!link) {
      error = std::string("attach refused: ") + std::strerror(errno);
    } else {
      bpf_link__destroy(link);
    }
  }
  connreset_bpf__destroy(skel);
  libbpf_set_print(previous);
  return error;
}

// The fentry trial without connreset's object: opening it would parse the kernel's BTF once
// more (detect_basic_features already did; ~1 s in an emulated VM). A program of a few
// instructions is loaded at fentry/<btf_id> and attached. It calls the one helper every
// connreset fentry program needs, bpf_get_socket_cookie(sk), which 5.10 does not offer to
// tracing programs (5.12): there the verifier refuses it as it would refuse ours.
std::string trial_attach_fentry(int btf_id) {
  const bpf_insn insns[] = {
      {BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_1, 0, 0},  // r1 = ctx[0], the socket
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  static char log[16384];
  log[0] = '\0';
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY,
              .attach_btf_id = static_cast<__u32>(btf_id), .log_level = 1, .log_size = sizeof(log),
              .log_buf = log);
  const int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "cr_trial", "GPL", insns,
                               sizeof(insns) / sizeof(insns[0]), &opts);
  if (fd < 0) {
    const int err = errno;
    std::string error = std::string("load refused: ") + std::strerror(err);
    if (const std::string helper = refused_helper(log); !helper.empty()) {
      error += ": this kernel does not offer the helper " + helper + " to fentry programs";
    }
    return error;
  }
  std::string error;
  const int link = bpf_raw_tracepoint_open(nullptr, fd);  // attaches a tracing program
  if (link < 0) {
    error = std::string("attach refused: ") + std::strerror(errno);
  } else {
    close(link);
  }
  close(fd);
  return error;
}

// The kprobe trial without connreset's object, for the same reason as the fentry one: a
// kprobe program of a few instructions that reads kernel memory (bpf_probe_read_kernel, as
// every connreset kprobe program does through CO-RE reads), attached to `function` through the
// kprobe PMU (perf_event_open + PERF_EVENT_IOC_SET_BPF, which every kernel with BPF kprobes
// takes). Lockdown, a function kprobes may not hook, or a missing helper refuse it here as
// they would refuse connreset's programs. `doctor` also loads one of those (trial_attach).
std::string trial_attach_kprobe(const char* function) {
  int pmu_type = -1;
  std::ifstream("/sys/bus/event_source/devices/kprobe/type") >> pmu_type;
  if (pmu_type < 0) return "no kprobe PMU (/sys/bus/event_source/devices/kprobe/type)";
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_10, 0, 0},  // r1 = fp - 8: where to read to
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, -8},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 8},           // r2 = 8 bytes
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0},           // r3 = NULL: fails, harmlessly
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_probe_read_kernel},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  static char log[16384];
  log[0] = '\0';
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_level = 1, .log_size = sizeof(log), .log_buf = log);
  const int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "cr_trial", "GPL", insns,
                               sizeof(insns) / sizeof(insns[0]), &opts);
  if (fd < 0) {
    std::string error = std::string("load refused: ") + std::strerror(errno);
    if (const std::string helper = refused_helper(log); !helper.empty()) {
      error += ": this kernel does not offer the helper " + helper + " to kprobe programs";
    }
    return error;
  }
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = static_cast<__u32>(pmu_type);
  attr.config1 = reinterpret_cast<uintptr_t>(function);  // kprobe_func
  attr.config2 = 0;                                      // probe_offset
  std::string error;
  const int event = static_cast<int>(syscall(SYS_perf_event_open, &attr, -1 /* every task */, 0 /* cpu */,
                                             -1, PERF_FLAG_FD_CLOEXEC));
  if (event < 0) {
    error = std::string("attach refused: cannot create a kprobe on ") + function + ": " + std::strerror(errno);
  } else {
    if (ioctl(event, PERF_EVENT_IOC_SET_BPF, fd) != 0) {
      error = std::string("attach refused: ") + std::strerror(errno);
    }
    close(event);
  }
  close(fd);
  return error;
}

}  // namespace connreset
