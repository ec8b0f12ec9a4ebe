#include "pipeline/pipeline.h"

#include <algorithm>

#include "common/names.h"
#include "explain/explainer.h"

namespace connreset {

Pipeline::Pipeline(CorrelatorOptions options, Filter filter, std::vector<Sink*> sinks)
    : correlator_(options, *this), filter_(std::move(filter)), sinks_(std::move(sinks)) {
  correlate_ = std::any_of(sinks_.begin(), sinks_.end(), [](const Sink* s) { return s->wants_explanations(); });
}

void Pipeline::begin(const RunInfo& info) {
  for (Sink* s : sinks_) s->begin(info);
}

void Pipeline::on_record(std::span<const std::byte> raw) {
  // decoded into one reused slot: a fresh Event per record (and its comm string) is
  // constructed and destroyed ~130,000 times a second in a storm
  DecodeError err;
  uint32_t netns = 0;
  if (!correlate_ && observer_ && !observer_->wants_decoded() && raw.size() == Decoder::kRecordSize) {
    // nobody reads an Event: check the record as decode() would and hand its bytes on
    if (Decoder::check(raw, &netns, &err)) return observer_->raw_event(raw, netns);
  } else if (decoder_.decode(raw, scratch_, &err)) {
    return dispatch(scratch_, raw);
  }
  // say it once per power of two, never once per record
  if (++stats_.decode_errors >= decode_errors_reported_ * 2 || decode_errors_reported_ == 0) {
    decode_errors_reported_ = stats_.decode_errors;
    for (Sink* s : sinks_) {
      s->warning("undecodable kernel record (" + err.message + "); " +
                 thousands(stats_.decode_errors) + " so far");
    }
  }
}

void Pipeline::enrich(const EnrichOptions& options) {
  resolver_ = options.enabled ? std::make_unique<WorkloadResolver>(options) : nullptr;
}

void Pipeline::on_task(const TaskRef& t, uint64_t ts_ns) {
  if (resolver_) resolver_->observe(t, ts_ns);
}

void Pipeline::on_event(const Event& ev) { dispatch(ev, {}); }

void Pipeline::dispatch(const Event& ev, std::span<const std::byte> raw) {
  if (observer_) observer_->event(ev, raw);
  if (!correlate_) return;  // nobody reads explanations: the observer was all
  last_ts_ns_ = std::max(last_ts_ns_, ev.ts_ns);
  // an RST sent from a syscall (close, ss -K) names its actor; rare, so always looked at
  if (resolver_ && ev.type == EventType::ResetSent) resolver_->observe(ev.task, ev.ts_ns);
  correlator_.on_event(ev);
}

void Pipeline::tick(uint64_t now_ns) {
  last_ts_ns_ = std::max(last_ts_ns_, now_ns);
  correlator_.tick(now_ns);
  for (Sink* s : sinks_) s->flush();
}

void Pipeline::update_kernel_counters(uint64_t events, uint64_t lost, uint64_t call_table_full,
                                      uint64_t states_folded, uint64_t close_unmatched) {
  if (lost > stats_.lost) {
    for (Sink* s : sinks_) {
      s->warning(thousands(lost - stats_.lost) + " kernel events lost (ring buffer full; " +
                 thousands(lost) + " in total): explanations may be incomplete, raise --ringbuf-kib");
    }
  }
  stats_.events = events;
  stats_.lost = lost;
  stats_.call_table_full = call_table_full;
  stats_.states_folded = states_folded;
  stats_.close_unmatched = close_unmatched;
  if (observer_) observer_->counters(stats());
}

void Pipeline::finish() {
  correlator_.flush();
  const RunStats st = stats();
  for (Sink* s : sinks_) s->end(st);
}

RunStats Pipeline::stats() const {
  RunStats st = stats_;
  const CorrelatorStats cs = correlator_.stats();
  st.sockets_tracked = cs.sockets_tracked;
  st.sockets_evicted = cs.sockets_evicted;
  return st;
}

void Pipeline::attach_workloads(Explanation& x) {
  if (!resolver_) return;
  const ResetCase& c = x.reset;
  auto add = [&](const std::optional<TaskRef>& t) {
    if (!t || x.workloads.contains(t->pid)) return;
    if (auto w = resolver_->lookup(*t, last_ts_ns_)) x.workloads.emplace(t->pid, std::move(w));
  };
  add(c.sender);
  add(c.receiver);
  add(c.actor);
  if (c.closer) add(c.closer->task);
  for (const Observation& o : c.observed) add(o.task);
}

void Pipeline::on_reset(const ResetCase& reset) {
  Explanation x = explain(reset);
  if (!filter_.matches(x)) return;
  attach_workloads(x);
  ++stats_.resets;
  for (Sink* s : sinks_) s->reset(x);
}

void Pipeline::on_lifecycle(const LifecycleEvent& ev) {
  if (!filter_.matches(ev)) return;
  for (Sink* s : sinks_) s->lifecycle(ev);
}

void Pipeline::on_finding(const Finding& found) {
  if (!filter_.matches(found)) return;
  const Finding f = explain(found);
  ++stats_.findings;
  for (Sink* s : sinks_) s->finding(f);
}

}  // namespace connreset
