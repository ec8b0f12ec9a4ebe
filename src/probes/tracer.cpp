#include "probes/tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <utility>

#include "connreset.h"
#include "connreset.skel.h"

namespace connreset {
namespace {

// libbpf reports through a global callback; keep its last lines so a failed
// load can say *why* (the verifier's complaint) instead of just "failed".
std::mutex g_log_mutex;
std::string g_log_tail;
bool g_verbose = false;

int libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
  // whole messages: a verifier log arrives as one, with its complaint at the end
  va_list copy;
  va_copy(copy, args);
  const int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string line(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(line.data(), line.size(), fmt, args);
  line.pop_back();
  std::lock_guard lock(g_log_mutex);
  if (g_verbose) std::fputs(line.c_str(), stderr);
  if (level == LIBBPF_DEBUG) return 0;
  g_log_tail += line;
  if (g_log_tail.size() > 4096) g_log_tail.erase(0, g_log_tail.size() - 4096);
  return 0;
}

std::string take_log() {
  std::lock_guard lock(g_log_mutex);
  std::string s;
  s.swap(g_log_tail);
  return s;
}

std::string hint_for(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return " (permission denied: run as root; on locked-down kernels check "
             "kernel.unprivileged_bpf_disabled and lockdown)";
    case ENOMEM: return " (out of memory for BPF maps: lower --ringbuf-kib or --max-tracked)";
    case ENOENT: return " (a kernel function, tracepoint or type is missing: run `connreset doctor`)";
    default: return "";
  }
}

bool power_of_two(uint64_t v) { return v && !(v & (v - 1)); }

}  // namespace

Tracer::Tracer(const AttachPlan& plan, const TracerOptions& opt) {
  if (!plan.usable()) throw TracerError("cannot trace on this kernel: " + plan.problems.front());
  if (!power_of_two(opt.ringbuf_kib) || opt.ringbuf_kib < 4) {
    throw TracerError("--ringbuf-kib must be a power of two >= 4, got " + std::to_string(opt.ringbuf_kib));
  }
  g_verbose = opt.verbose;
  libbpf_set_print(libbpf_log);
  take_log();

  skel_ = connreset_bpf__open();
  if (!skel_) throw TracerError("cannot open the BPF object: " + std::string(std::strerror(errno)));

  skel_->rodata->filter_port = opt.filter_port;
  skel_->rodata->loop_report_first = opt.loop_report_first;
  skel_->rodata->quiet_states = !opt.all_states;
  skel_->rodata->wakeup_bytes = static_cast<uint64_t>(opt.ringbuf_kib) * 1024 / 4;
  skel_->rodata->key_by_pointer = plan.uses(ProbeFamily::Kprobe);
  // tcp_reset(sk, skb) since 5.15, tcp_reset(sk) before: read the RST segment only where it is passed
  skel_->rodata->reset_has_skb = plan.features && plan.features->func_params("tcp_reset") == 2;
  bpf_map__set_max_entries(skel_->maps.events, opt.ringbuf_kib * 1024);
  bpf_map__set_max_entries(skel_->maps.calls, opt.max_tracked);
  bpf_map__set_max_entries(skel_->maps.sock_store, opt.max_tracked);
  bpf_map__set_max_entries(skel_->maps.tree_tasks, opt.track_tree ? opt.tree_max : 1);
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    connreset_bpf__destroy(skel_);
    skel_ = nullptr;
    throw TracerError("cannot count the CPUs: " + std::string(std::strerror(-ncpu)));
  }
  counter_cpus_ = static_cast<size_t>(ncpu);
  bpf_map__set_max_entries(skel_->maps.counters, static_cast<uint32_t>(counter_cpus_ * CR_CNT_STRIDE));
  track_tree_ = opt.track_tree;

  // the attach plan decides, before load, which programs exist at all
  std::vector<std::string> wanted = plan.programs();
  if (opt.track_tree) {
    for (std::string_view name : kProcessTreePrograms) wanted.emplace_back(name);
  }
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel_->obj) {
    const std::string name = bpf_program__name(prog);
    const bool keep = std::find(wanted.begin(), wanted.end(), name) != wanted.end();
    bpf_program__set_autoload(prog, keep);
  }

  if (int err = connreset_bpf__load(skel_); err != 0) {
    const std::string log = take_log();
    connreset_bpf__destroy(skel_);
    skel_ = nullptr;
    throw TracerError("loading the BPF programs failed: " + std::string(std::strerror(-err)) +
                      hint_for(-err) + (log.empty() ? "" : "\nlibbpf said:\n" + log));
  }
  programs_ = wanted;
  try {
    attach();
  } catch (const TracerError&) {
    release();  // a throwing constructor gets no destructor
    throw;
  }
  // mapped now, while privileged: read as memory after the privileges are dropped
  counters_len_ = counter_cpus_ * CR_CNT_STRIDE * sizeof(uint64_t);
  void* counters = mmap(nullptr, counters_len_, PROT_READ, MAP_SHARED, bpf_map__fd(skel_->maps.counters), 0);
  if (counters == MAP_FAILED) {
    const int err = errno;
    counters_len_ = 0;
    release();
    throw TracerError(std::string("cannot map the kernel counters: ") + std::strerror(err));
  }
  counters_ = static_cast<const uint64_t*>(counters);
  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &Tracer::on_sample, this, nullptr);
  if (!ring_) {
    const int err = errno;
    release();
    throw TracerError(std::string("cannot map the ring buffer: ") + std::strerror(err));
  }
}

Tracer::~Tracer() { release(); }

void Tracer::attach() {
  if (!links_.empty()) return;
  for (const std::string& name : programs_) {
    bpf_program* p = bpf_object__find_program_by_name(skel_->obj, name.c_str());
    if (!p) {
      // errno would be whatever the last call left there: name the real problem
      detach();
      throw TracerError("attaching " + name + " failed: the BPF object has no program of that name "
                        "(connreset and its BPF object are from different builds)");
    }
    bpf_link* link = bpf_program__attach(p);
    if (!link) {
      const int err = errno;
      const std::string log = take_log();
      detach();
      throw TracerError("attaching " + name + " failed: " + std::strerror(err) + hint_for(err) +
                        (log.empty() ? "" : "\nlibbpf said:\n" + log));
    }
    links_.push_back(link);
    attached_.push_back(name);
  }
}

void Tracer::detach() {
  for (bpf_link* l : links_) bpf_link__destroy(l);
  links_.clear();
  attached_.clear();
}

void Tracer::release() {
  if (ring_) ring_buffer__free(ring_);
  ring_ = nullptr;
  if (counters_) munmap(const_cast<uint64_t*>(counters_), counters_len_);
  counters_ = nullptr;
  detach();
  if (skel_) connreset_bpf__destroy(skel_);
  skel_ = nullptr;
}

int Tracer::on_sample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Tracer*>(ctx);
  ++self->records_;
  // C++ exceptions must not unwind through libbpf's C frames: keep it, and
  // a negative return makes libbpf stop consuming (this record is consumed).
  try {
    (*self->current_fn_)(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
  } catch (...) {
    self->callback_error_ = std::current_exception();
    return -ECANCELED;
  }
  return 0;
}

int Tracer::poll(int timeout_ms, const RecordFn& fn) {
  current_fn_ = &fn;
  records_ = 0;
  // Most records are submitted without a wake-up (batched), so consume
  // after the wait whether or not epoll fired.
  callback_error_ = nullptr;
  int err = ring_buffer__poll(ring_, timeout_ms);
  if (!callback_error_ && (err >= 0 || err == -EINTR)) err = ring_buffer__consume(ring_);
  current_fn_ = nullptr;
  if (callback_error_) std::rethrow_exception(std::exchange(callback_error_, nullptr));
  if (err < 0 && err != -EINTR) return err;
  return records_;
}

int Tracer::tree_map_fd() const { return track_tree_ ? bpf_map__fd(skel_->maps.tree_tasks) : -1; }

size_t Tracer::sockets_kept() const {
  const int fd = bpf_map__fd(skel_->maps.sock_store);
  size_t n = 0;
  uint64_t key = 0, next = 0;
  for (const void* prev = nullptr; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
    key = next;
    ++n;
  }
  return n;
}

uint64_t Tracer::tree_untracked() const {
  if (!track_tree_) return 0;
  uint32_t key = 0;
  uint64_t n = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.tree_untracked), &key, &n) != 0) return 0;
  return n;
}

KernelCounters Tracer::counters() const {
  KernelCounters out;
  if (!counters_) throw TracerError("reading the kernel counters: the map is not mapped");
  // no bpf() call: the map's memory, written by the programs on each CPU
  auto sum = [&](uint32_t which) -> uint64_t {
    uint64_t total = 0;
    for (size_t cpu = 0; cpu < counter_cpus_; ++cpu) {
      total += __atomic_load_n(&counters_[cpu * CR_CNT_STRIDE + which], __ATOMIC_RELAXED);
    }
    return total;
  };
  out.events = sum(CR_CNT_EVENTS);
  out.lost = sum(CR_CNT_LOST);
  out.call_table_full = sum(CR_CNT_CALL_TABLE_FULL);
  out.states_folded = sum(CR_CNT_STATES_FOLDED);
  out.close_unmatched = sum(CR_CNT_CLOSE_UNMATCHED);
  return out;
}

}  // namespace connreset
