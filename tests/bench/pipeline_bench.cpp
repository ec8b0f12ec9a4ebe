// User-space cost of connreset: decode -> correlate -> explain on one core,
// replaying synthetic raw record streams shaped like the loadgen workloads.
// Target (issue #6): >= 1,000,000 events/s. items_per_second is events/s.
//
//   pipeline_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <span>

#include "pipeline/pipeline.h"
#include "synthetic_stream.h"

namespace connreset::bench {
namespace {

// Counts what comes out so the explanations are built and not optimised away.
class CountingSink : public Sink {
 public:
  void reset(const Explanation& x) override {
    ++resets;
    bytes += x.because.size() + x.advice.size();
  }
  void lifecycle(const LifecycleEvent&) override { ++lifecycles; }
  uint64_t resets = 0, lifecycles = 0, bytes = 0;
};

constexpr uint32_t kConns = 20'000;

// connect, one exchange, clean close (loadgen churn): 14 records per connection
const StreamBuilder& churn_stream() {
  static const StreamBuilder s = [] {
    StreamBuilder b;
    b.step_ns = 10'000;  // ~100k events/s of kernel time
    for (uint32_t i = 0; i < kConns; ++i) {
      const auto c = b.new_conn(i);
      b.open(c);
      b.clean_close(c);
    }
    return b;
  }();
  return s;
}

// every connection closed with unread data (loadgen storm), at `resets_per_s` of kernel time
StreamBuilder storm_stream(int64_t resets_per_s) {
  StreamBuilder b;
  constexpr uint64_t kRecordsPerReset = 10;
  b.step_ns = 1'000'000'000ull / (static_cast<uint64_t>(resets_per_s) * kRecordsPerReset);
  for (uint32_t i = 0; i < kConns; ++i) b.reset_on_close(b.new_conn(i));
  return b;
}

// Feeds the records the way LiveSession does: on_record for each, tick between ring-buffer
// batches. The kernel batches records and the reader polls every 100 ms, so a batch holds 100 ms
// of events: at 50,000 resets/s, 5,000 cases are pending before the next tick.
constexpr uint64_t kPollNs = 100'000'000;

void replay(benchmark::State& state, const StreamBuilder& s) {
  uint64_t resets = 0;
  for (auto _ : state) {
    CountingSink sink;
    Pipeline p(CorrelatorOptions{}, Filter{}, {&sink});
    const size_t n = s.records.size();
    uint64_t next_tick = n ? s.ts[0] + kPollNs : 0;
    for (size_t i = 0; i < n; ++i) {
      p.on_record(std::span<const std::byte>(s.records[i]));
      if (s.ts[i] >= next_tick) {
        p.tick(s.ts[i]);
        next_tick = s.ts[i] + kPollNs;
      }
    }
    p.finish();
    resets += sink.resets;
    benchmark::DoNotOptimize(sink.bytes);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * s.records.size()));
  state.counters["resets_per_iter"] =
      static_cast<double>(resets) / static_cast<double>(std::max<int64_t>(1, static_cast<int64_t>(state.iterations())));
}

void BM_Decode(benchmark::State& state) {
  const StreamBuilder& s = churn_stream();
  Decoder d;
  DecodeError err;
  for (auto _ : state) {
    for (const Record& r : s.records) {
      auto ev = d.decode(std::span<const std::byte>(r), &err);
      benchmark::DoNotOptimize(ev);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * s.records.size()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_Pipeline_Churn(benchmark::State& state) { replay(state, churn_stream()); }
BENCHMARK(BM_Pipeline_Churn)->Unit(benchmark::kMillisecond);

void BM_Pipeline_ResetStorm(benchmark::State& state) {
  const StreamBuilder s = storm_stream(state.range(0));
  replay(state, s);
}
// resets per second of kernel time: how many resets are pending (settling) at once
BENCHMARK(BM_Pipeline_ResetStorm)->Arg(1'000)->Arg(10'000)->Arg(50'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace connreset::bench

BENCHMARK_MAIN();
