#include "journal/recorder.h"

#include <array>
#include <fstream>

#include "decode/decoder.h"

namespace connreset::journal {

std::string read_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

Recorder::Recorder(Writer& writer, std::optional<uint32_t> netns) : writer_(writer), netns_(netns) {}

void Recorder::begin(const RunInfo& info) {
  Meta m;
  m.host = info.hostname;
  m.boot_id = read_boot_id();
  m.kernel = info.kernel;
  m.command = info.command;
  m.probes = info.probes;
  writer_.open(m);
}

void Recorder::event(const Event& ev, std::span<const std::byte> raw) {
  if (netns_ && ev.netns != *netns_) {
    ++events_skipped_;
    return;
  }
  // The kernel zeroes each record before filling it (bpf/sock_read.bpf.h), so its
  // padding holds no stale kernel memory. A record of another size than this
  // build's (none from the ring buffer) is encoded: the header names one version.
  std::array<std::byte, Decoder::kRecordSize> encoded{};
  if (raw.size() != Decoder::kRecordSize) {
    Decoder::encode(ev, encoded);
    raw = encoded;
  }
  append_event(raw);
}

void Recorder::raw_event(std::span<const std::byte> raw, uint32_t netns) {
  if (netns_ && netns != *netns_) {
    ++events_skipped_;
    return;
  }
  append_event(raw);
}

void Recorder::append_event(std::span<const std::byte> raw) {
  if (!error_.empty()) return;
  try {
    writer_.append(RecordKind::Event, raw);
    ++events_written_;
  } catch (const WriterError& e) {
    error_ = e.what();
  }
}

void Recorder::flush() {
  if (!error_.empty()) return;
  try {
    writer_.flush();
  } catch (const WriterError& e) {
    error_ = e.what();
  }
}

void Recorder::counters(const RunStats& stats) {
  const KernelTotals t{stats.events, stats.lost, stats.call_table_full, stats.states_folded,
                       stats.close_unmatched};
  if (t == last_totals_) return;
  last_totals_ = t;
  if (!error_.empty()) return;
  try {
    writer_.append(RecordKind::Counters, encode_totals(t));
  } catch (const WriterError& e) {
    error_ = e.what();
  }
}

}  // namespace connreset::journal
