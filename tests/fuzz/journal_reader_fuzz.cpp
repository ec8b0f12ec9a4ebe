// libFuzzer target: hostile bytes as a journal file. The reader must never
// read out of bounds, allocate without bound or loop; whatever it accepts
// goes through the decoder, the correlator, the explainer and both renderers.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "journal/reader.h"
#include "pipeline/pipeline.h"
#include "sinks/json_format.h"
#include "sinks/text_sink.h"

namespace {

class RenderingSink : public connreset::Sink {
 public:
  void reset(const connreset::Explanation& x) override {
    bytes += connreset::render_text(x, clock).size();
    bytes += connreset::dump_line(connreset::reset_to_json(x, clock)).size();
  }
  void finding(const connreset::Finding& f) override {
    bytes += connreset::render_text(f, clock).size();
    bytes += connreset::dump_line(connreset::finding_to_json(f, clock)).size();
  }
  connreset::ClockMap clock;
  size_t bytes = 0;
};

}  // namespace

// Inputs starting with "RAW!" skip the framing: the rest is raw 136-byte event
// records, so the fuzzer reaches the decoder and correlator without having to
// forge CRC-32s.
int raw_records(std::span<const std::byte> bytes) {
  using namespace connreset;
  RenderingSink sink;
  CorrelatorOptions opts;
  opts.max_sockets = 1024;
  opts.settle_ns = 1000;
  Pipeline pipeline(opts, Filter{}, {&sink});
  constexpr size_t kRecord = 136;
  for (size_t at = 0; at + kRecord <= bytes.size(); at += kRecord) {
    pipeline.on_record(bytes.subspan(at, kRecord));
    pipeline.tick(at * 1000);
  }
  pipeline.finish();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace connreset;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  if (size >= 4 && std::memcmp(data, "RAW!", 4) == 0) return raw_records(bytes.subspan(4));
  journal::Reader reader(bytes, "fuzz");
  if (!reader.read_header()) {
    if (!reader.error() || reader.error()->line().empty()) __builtin_trap();  // a failure always says why
    return 0;
  }
  RenderingSink sink;
  sink.clock = reader.meta().clock;
  CorrelatorOptions opts;
  opts.max_sockets = 1024;
  Pipeline pipeline(opts, Filter{}, {&sink});
  uint64_t last_offset = 0;
  while (auto rec = reader.next()) {
    if (rec->offset < last_offset) __builtin_trap();  // must always move forward
    last_offset = rec->offset;
    if (rec->kind == journal::RecordKind::Event) {
      pipeline.on_record(rec->payload);
    } else if (rec->kind == journal::RecordKind::Counters) {
      if (auto t = journal::decode_totals(rec->payload)) {
        pipeline.update_kernel_counters(t->events, t->lost, t->call_table_full, t->states_folded,
                                         t->close_unmatched);
      }
    }
  }
  if (reader.offset() > size) __builtin_trap();
  pipeline.finish();
  return 0;
}
