#include "report/replay.h"

#include <limits>
#include <optional>
#include <queue>

#include "common/names.h"
#include "decode/decoder.h"

namespace connreset::report {
namespace {

// One source's events, file after file, record after record.
class SourceStream {
 public:
  SourceStream(const Source& src, size_t index, ReplayOutcome& out, uint64_t& next_cookie)
      : src_(src), index_(index), out_(out), next_cookie_(next_cookie) {}

  std::optional<ReplayedEvent> next() {
    while (file_ < src_.files.size()) {
      if (!reader_) open_file();
      while (auto rec = reader_->next()) {
        if (rec->kind == journal::RecordKind::Counters) {
          if (auto t = journal::decode_totals(rec->payload)) summary().totals = *t;
          continue;
        }
        if (rec->kind != journal::RecordKind::Event) continue;
        DecodeError err;
        std::optional<Event> ev = decoder_.decode(rec->payload, &err);
        if (!ev) {
          if (decode_errors_++ == 0) {
            out_.problems.push_back(reader_->name() + ": offset " + std::to_string(rec->offset) +
                                    ": undecodable event record (" + err.message + "), skipped");
          }
          continue;
        }
        return adopt(*ev);
      }
      close_file();
    }
    return std::nullopt;
  }

 private:
  SourceSummary& summary() { return out_.sources[index_]; }

  void open_file() {
    const JournalFile& f = src_.files[file_];
    reader_.emplace(f.file->bytes(), f.path);
    reader_->read_header();  // read once already by open_journals
    clock_ = f.meta.clock;
    decode_errors_ = 0;
  }

  void close_file() {
    if (const auto& e = reader_->error()) {
      out_.problems.push_back(e->line() + "; the " + thousands(reader_->records()) +
                              " records before it were read");
      summary().ended_cleanly = false;
    } else if (!reader_->saw_end_record()) {
      out_.problems.push_back(reader_->name() + ": offset " + std::to_string(reader_->offset()) +
                              ": no end record: the recorder did not stop cleanly (killed, "
                              "crashed or still running); all " +
                              thousands(reader_->records()) + " records were read");
      summary().ended_cleanly = false;
    }
    reader_.reset();
    ++file_;
  }

  ReplayedEvent adopt(Event ev) {
    const int64_t wall = clock_.to_wall_ns(ev.ts_ns);
    ev.ts_ns = wall > 0 ? static_cast<uint64_t>(wall) : 0;
    if (ev.cookie != 0) {
      auto [it, fresh] = cookies_.emplace(ev.cookie, 0);
      if (fresh) {
        it->second = ++next_cookie_;
        out_.cookie_source.emplace(it->second, index_);
      }
      ev.cookie = it->second;
    }
    ++summary().events;
    return ReplayedEvent{std::move(ev), index_};
  }

  const Source& src_;
  size_t index_;
  ReplayOutcome& out_;
  uint64_t& next_cookie_;
  size_t file_ = 0;
  std::optional<journal::Reader> reader_;
  ClockMap clock_;
  Decoder decoder_;
  uint64_t decode_errors_ = 0;
  std::unordered_map<uint64_t, uint64_t> cookies_;  // this host's cookie -> report-wide id
};

}  // namespace

RunInfo report_run_info(const JournalSet& set) {
  RunInfo info;
  info.command = "report";
  for (const Source& s : set.sources) {
    info.hostname += (info.hostname.empty() ? "" : ",") + s.label;
    if (info.kernel.empty() && !s.files.empty()) {
      info.kernel = s.files.front().meta.kernel;
      info.probes = s.files.front().meta.probes;
    }
  }
  info.clock = ClockMap{0};  // replayed timestamps are wall time already
  return info;
}

ReplayOutcome replay(const JournalSet& set, Pipeline* pipeline,
                     const std::function<void(const ReplayedEvent&)>& on_event) {
  ReplayOutcome out;
  uint64_t next_cookie = 0;
  std::vector<std::unique_ptr<SourceStream>> streams;
  for (size_t i = 0; i < set.sources.size(); ++i) {
    out.sources.push_back(SourceSummary{set.sources[i].label,
                                        set.sources[i].files.empty() ? "" : set.sources[i].files[0].meta.kernel,
                                        set.sources[i].files.size(), 0, {}, true});
    streams.push_back(std::make_unique<SourceStream>(set.sources[i], i, out, next_cookie));
  }
  // k-way merge by wall time: the heads of each source's stream
  using Head = std::pair<uint64_t, size_t>;
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  std::vector<std::optional<ReplayedEvent>> pending(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    pending[i] = streams[i]->next();
    if (pending[i]) heads.emplace(pending[i]->event.ts_ns, i);
  }
  uint64_t now = 0;
  while (!heads.empty()) {
    const size_t i = heads.top().second;
    heads.pop();
    ReplayedEvent ev = std::move(*pending[i]);
    pending[i] = streams[i]->next();
    if (pending[i]) heads.emplace(pending[i]->event.ts_ns, i);

    const auto wall = static_cast<int64_t>(ev.event.ts_ns);
    if (out.events++ == 0) out.first_wall_ns = wall;
    out.first_wall_ns = std::min(out.first_wall_ns, wall);
    out.last_wall_ns = std::max(out.last_wall_ns, wall);
    if (on_event) on_event(ev);
    if (!pipeline) continue;
    // event time drives the correlator: what is older than the settle time is reported
    if (ev.event.ts_ns > now) {
      now = ev.event.ts_ns;
      pipeline->tick(now);
    }
    pipeline->on_event(ev.event);
  }
  if (pipeline) {
    journal::KernelTotals sum;
    for (const SourceSummary& s : out.sources) {
      sum.events += s.totals.events;
      sum.lost += s.totals.lost;
      sum.call_table_full += s.totals.call_table_full;
    }
    pipeline->update_kernel_counters(sum.events, sum.lost, sum.call_table_full);
  }
  return out;
}

}  // namespace connreset::report
