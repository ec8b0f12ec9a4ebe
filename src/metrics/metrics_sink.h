#pragma once
#include "metrics/registry.h"
#include "pipeline/pipeline.h"
#include "sinks/sink.h"

namespace connreset::metrics {

// What `record --metrics` exports: resets by cause and by process, events
// read and lost, connections tracked, and the attach plan as an info metric.
class MetricsSink : public Sink {
 public:
  explicit MetricsSink(Registry& registry);
  void begin(const RunInfo& info) override;
  void reset(const Explanation& x) override;
  void finding(const Finding& f) override;
  void warning(const std::string&) override;
  // the pipeline's statistics, every second (through the EventObserver hook)
  void counters(const RunStats& stats);

 private:
  Registry& registry_;
};

}  // namespace connreset::metrics
