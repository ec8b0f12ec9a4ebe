#include "pipeline/live_session.h"

#include <unistd.h>

#include "common/clock.h"
#include "common/host.h"

namespace connreset {

RunInfo make_run_info(const std::string& command, const KernelFeatures& f, const AttachPlan& plan) {
  RunInfo info;
  info.command = command;
  info.hostname = node_name();
  info.kernel = f.release;
  for (const PlanEntry& e : plan.entries) {
    info.probes.emplace_back(std::string(e.probe->name), plan.describe(e));
  }
  info.clock = ClockMap::now();
  return info;
}

LiveSession::LiveSession(const LiveOptions& options, std::vector<Sink*> sinks)
    : options_(options),
      plan_(plan_for_running_kernel(options.family)),
      pipeline_(options.correlator, options.filter, std::move(sinks)) {
  tracer_ = std::make_unique<Tracer>(plan_, options_.tracer);
  pipeline_.observe(options_.observer);
  pipeline_.enrich(options_.enrich);
  pipeline_.begin(run_info());
}

LiveSession::~LiveSession() { stop_background(); }

RunInfo LiveSession::run_info() const { return make_run_info(options_.command, features(), plan_); }

void LiveSession::poll_once() {
  const int n = tracer_->poll(options_.poll_ms, [this](std::span<const std::byte> raw) {
    pipeline_.on_record(raw);
  });
  if (n < 0) throw TracerError("reading the ring buffer failed: error " + std::to_string(-n));
  const uint64_t now = monotonic_now_ns();
  pipeline_.tick(now);
  if (now - last_counters_ns_ >= 1'000'000'000) {
    const KernelCounters k = tracer_->counters();
    pipeline_.update_kernel_counters(k.events, k.lost, k.call_table_full, k.states_folded,
                                    k.close_unmatched);
    last_counters_ns_ = now;
  }
}

void LiveSession::run(const std::function<bool()>& stop, std::optional<uint64_t> deadline_ns) {
  while (!stop()) {
    if (deadline_ns && monotonic_now_ns() >= *deadline_ns) break;
    poll_once();
  }
}

void LiveSession::start_background() {
  stop_ = false;
  thread_ = std::thread([this] {
    // an exception leaving a thread is std::terminate: keep it for the owner
    try {
      run([this] { return stop_.load(); }, std::nullopt);
    } catch (const std::exception& e) {
      std::lock_guard lock(background_mutex_);
      background_error_ = e.what();
    }
  });
}

void LiveSession::stop_background() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

RunStats LiveSession::finish() {
  // drain what the kernel queued after the last poll
  try {
    tracer_->poll(0, [this](std::span<const std::byte> raw) { pipeline_.on_record(raw); });
    const KernelCounters k = tracer_->counters();
    pipeline_.update_kernel_counters(k.events, k.lost, k.call_table_full, k.states_folded,
                                    k.close_unmatched);
  } catch (const TracerError&) {
    // the drain or the counters failed at exit: keep the last values; what was read is still explained
  }
  pipeline_.finish();
  return pipeline_.stats();
}

}  // namespace connreset
