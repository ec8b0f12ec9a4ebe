#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/pipeline.h"
#include "probes/attach_plan.h"
#include "probes/features.h"
#include "probes/tracer.h"

namespace connreset {

struct LiveOptions {
  std::string command = "trace";
  FamilyChoice family = FamilyChoice::Auto;
  TracerOptions tracer;
  CorrelatorOptions correlator;
  Filter filter;
  int poll_ms = 100;
  EventObserver* observer = nullptr;  // record: sees every event (not owned)
  EnrichOptions enrich;               // container and pod names
};

// Kernel probes feeding the pipeline, live: plan, load, attach, poll.
class LiveSession {
 public:
  // Probes the kernel and attaches; throws TracerError with a clear message.
  LiveSession(const LiveOptions& options, std::vector<Sink*> sinks);
  ~LiveSession();

  // Polls in the calling thread until stop() returns true or the deadline (monotonic ns) passes.
  void run(const std::function<bool()>& stop, std::optional<uint64_t> deadline_ns);
  // Polls in a thread of its own (demo, tests) until stop_background().
  void start_background();
  void stop_background();
  // Why the background thread stopped polling on its own, or "".
  std::string background_error() const {
    std::lock_guard lock(background_mutex_);
    return background_error_;
  }
  // Reports what is pending and the run's statistics; call once, after polling ended.
  RunStats finish();

  const KernelFeatures& features() const { return *plan_.features; }
  const AttachPlan& plan() const { return plan_; }
  const Tracer& tracer() const { return *tracer_; }
  RunInfo run_info() const;

 private:
  void poll_once();

  LiveOptions options_;
  AttachPlan plan_;
  Pipeline pipeline_;
  std::unique_ptr<Tracer> tracer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex background_mutex_;
  std::string background_error_;
  uint64_t last_counters_ns_ = 0;
};

// Fills in what every RunInfo says about the host and the plan.
RunInfo make_run_info(const std::string& command, const KernelFeatures& f, const AttachPlan& plan);

}  // namespace connreset
