#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "decode/event.h"
#include "probes/attach_plan.h"

struct connreset_bpf;
struct ring_buffer;
struct bpf_link;

namespace connreset {

struct TracerOptions {
  uint16_t filter_port = 0;          // 0: all ports
  uint32_t ringbuf_kib = 4096;       // power of two, >= 4 (page size)
  uint32_t max_tracked = 65536;      // recv/send aggregation entries in the LRU hash
  uint64_t loop_report_first = kDefaultLoopThreshold;  // after-the-end calls before the first repeat report
  bool verbose = false;              // libbpf's own messages on stderr
  // Every TCP state change as a record (trace --all). Otherwise the kernel leaves out the
  // changes another record already implies (bpf/sock_read.bpf.h, quiet_states).
  bool all_states = false;
  // connreset run: also load the process-tree programs (bpf/process_tree.bpf.h);
  // off for every other command, whose programs stay exactly as they were.
  bool track_tree = false;
  uint32_t tree_max = 8192;          // processes of the tree tracked at once
};

// Programs loaded outside the attach plan: connreset run's process tree
// (bpf/process_tree.bpf.h), with TracerOptions::track_tree.
inline constexpr std::string_view kProcessTreePrograms[] = {"tree_newtask", "tree_exit"};

class TracerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KernelCounters {
  uint64_t events = 0;
  uint64_t lost = 0;
  uint64_t call_table_full = 0;
  uint64_t states_folded = 0;  // state changes left out, implied by another record
  uint64_t close_unmatched = 0;  // closes left out for an RST that then did not follow (lost)
};

// The loaded and attached BPF programs of one attach plan, and the ring
// buffer they write to. Everything is released by the destructor.
class Tracer {
 public:
  // Opens, configures, loads and attaches; throws TracerError with a message a person can act on.
  Tracer(const AttachPlan& plan, const TracerOptions& options);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  using RecordFn = std::function<void(std::span<const std::byte>)>;
  // Waits up to timeout_ms, then hands every queued record to fn. Returns records read.
  // An exception fn throws stops the polling and is rethrown here, not
  // unwound through libbpf's C frames.
  int poll(int timeout_ms, const RecordFn& fn);
  // Sums the counters map, mapped into memory at load: no bpf() call, so it
  // works after the privileges are dropped on every kernel. Throws
  // TracerError when it is not mapped: a made-up 0 would later look like
  // counters going back, or hide lost events.
  KernelCounters counters() const;
  // The process-tree map (track_tree only; -1 otherwise) and how many of the
  // tree's processes were not tracked because it was full.
  int tree_map_fd() const;
  uint64_t tree_untracked() const;
  // Sockets whose state the kernel keeps now (bpf/sock_store.bpf.h; walks the map: tests, not hot paths).
  size_t sockets_kept() const;
  const std::vector<std::string>& attached() const { return attached_; }
  // Links off and on again with the programs and maps kept: what the probes
  // cost is measured by switching them (tests/bench/probe_ab.cpp). The constructor attaches.
  void detach();
  void attach();

 private:
  static int on_sample(void* ctx, void* data, size_t size);
  void release();

  connreset_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  std::vector<std::string> programs_;  // of the plan, loaded
  std::vector<bpf_link*> links_;
  std::vector<std::string> attached_;
  const RecordFn* current_fn_ = nullptr;
  int records_ = 0;
  const uint64_t* counters_ = nullptr;  // the counters map, mmap()ed read-only
  size_t counters_len_ = 0;
  size_t counter_cpus_ = 0;
  bool track_tree_ = false;
  std::exception_ptr callback_error_;  // thrown by current_fn_, rethrown by poll()
};

}  // namespace connreset
