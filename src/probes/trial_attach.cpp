#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "connreset.skel.h"
#include "probes/features.h"

namespace connreset {
namespace {
int quiet(enum libbpf_print_level, const char*, va_list) { return 0; }
}  // namespace

// A trial, not a guess: some kernels list fentry support and still refuse it
// (EPERM at load on the development machines), kprobes may be compiled out.
std::string trial_attach(const char* program) {
  libbpf_print_fn_t previous = libbpf_set_print(quiet);
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
  bpf_map__set_max_entries(skel->maps.tree_tasks, 1);
  if (int err = connreset_bpf__load(skel); err != 0) {
    error = std::string("load refused: ") + std::strerror(-err);
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

}  // namespace connreset
