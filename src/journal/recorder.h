#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "journal/writer.h"
#include "pipeline/pipeline.h"
#include "sinks/sink.h"

namespace connreset::journal {

// The journal as a consumer of the live pipeline: every decoded event (the
// kernel's raw record) and the kernel counters go to the Writer. It is a
// Sink only to learn the run's facts (host, kernel, attach plan) for the header.
class Recorder : public EventObserver, public Sink {
 public:
  // netns: journal only events of this network namespace (record --netns).
  Recorder(Writer& writer, std::optional<uint32_t> netns);

  void begin(const RunInfo& info) override;
  void reset(const Explanation&) override {}
  // Journals raw, the kernel's record as it was written, so that a field
  // today's decoder ignores survives for tomorrow's report; an event without
  // one (not from the kernel) is encoded.
  void event(const Event& ev, std::span<const std::byte> raw) override;
  // The same for a record of this build's size that Decoder::check() accepted: no Event built.
  void raw_event(std::span<const std::byte> raw, uint32_t netns) override;
  bool wants_decoded() const override { return false; }
  void counters(const RunStats& stats) override;
  void flush() override;  // the batch of one ring-buffer poll, in one write()
  bool wants_explanations() const override { return false; }  // it journals raw events

  uint64_t events_written() const { return events_written_; }
  uint64_t events_skipped() const { return events_skipped_; }
  // The first write error (disk full, ...): "" while all is well. Never thrown
  // from event(): that runs inside libbpf's ring-buffer callback.
  const std::string& error() const { return error_; }

 private:
  void append_event(std::span<const std::byte> raw);
  Writer& writer_;
  std::optional<uint32_t> netns_;
  KernelTotals last_totals_;
  uint64_t events_written_ = 0;
  uint64_t events_skipped_ = 0;
  std::string error_;
};

// /proc/sys/kernel/random/boot_id, "" if unreadable.
std::string read_boot_id();

}  // namespace connreset::journal
