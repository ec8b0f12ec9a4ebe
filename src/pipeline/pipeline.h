#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "correlate/correlator.h"
#include "decode/decoder.h"
#include "enrich/resolver.h"
#include "pipeline/filter.h"
#include "sinks/sink.h"

namespace connreset {

// Sees every decoded event before correlation and the run's counters: what
// `record` journals, so a later replay can re-run correlation. raw: the
// kernel's record the event was decoded from, byte for byte (empty when the
// event did not come from the kernel: replay, tests).
class EventObserver {
 public:
  virtual ~EventObserver() = default;
  virtual void event(const Event& ev, std::span<const std::byte> raw) = 0;
  // true: event() wants the decoded Event. false: when nothing correlates (no sink wants
  // explanations), a kernel record of this build's size that Decoder::check() accepts goes
  // to raw_event() undecoded instead (record without --json/--metrics).
  virtual bool wants_decoded() const { return true; }
  virtual void raw_event(std::span<const std::byte> /*raw*/, uint32_t /*netns*/) {}
  virtual void counters(const RunStats&) {}
};

// decoder -> correlator -> explainer -> filter -> sinks. The one path both
// live tracing and journal replay go through.
class Pipeline : private CorrelatorOutput {
 public:
  Pipeline(CorrelatorOptions options, Filter filter, std::vector<Sink*> sinks);

  void begin(const RunInfo& info);
  void on_record(std::span<const std::byte> raw);  // undecodable records are counted, not fatal
  void on_event(const Event& ev);
  void tick(uint64_t now_ns);
  // kernel-side counters; a rise in lost events is reported to the sinks at once
  void update_kernel_counters(uint64_t events, uint64_t lost, uint64_t call_table_full,
                              uint64_t states_folded = 0, uint64_t close_unmatched = 0);
  void finish();  // report what is pending, then the run's statistics
  RunStats stats() const;
  void observe(EventObserver* observer) { observer_ = observer; }
  // false: no sink wants explanations, so events only reach the observer (record's journal)
  bool correlating() const { return correlate_; }
  // Name the container and pod of each task (live tracing; journals replay without).
  void enrich(const EnrichOptions& options);
  const WorkloadResolver* resolver() const { return resolver_.get(); }

 private:
  void dispatch(const Event& ev, std::span<const std::byte> raw);
  void on_reset(const ResetCase& reset) override;
  void on_lifecycle(const LifecycleEvent& ev) override;
  void on_finding(const Finding& f) override;
  void on_task(const TaskRef& t, uint64_t ts_ns) override;
  void attach_workloads(Explanation& x);

  Decoder decoder_;
  Event scratch_;  // on_record's decoded event; sinks and the correlator copy what they keep
  Correlator correlator_;
  Filter filter_;
  std::vector<Sink*> sinks_;
  RunStats stats_;
  uint64_t decode_errors_reported_ = 0;
  EventObserver* observer_ = nullptr;
  std::unique_ptr<WorkloadResolver> resolver_;
  uint64_t last_ts_ns_ = 0;
  bool correlate_ = true;  // some sink wants explanations (Sink::wants_explanations)
};

}  // namespace connreset
