#include "report/replay.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <queue>

#include "common/names.h"
#include "decode/decoder.h"
#include "journal/reader.h"

namespace connreset::report {
namespace {

// One source's events, file after file, record after record: one file open
// at a time, read through a window of `chunk` bytes.
class SourceStream {
 public:
  SourceStream(const Source& src, size_t index, ReplayOutcome& out, size_t chunk, const ReplayWindow& w)
      : src_(src), index_(index), out_(out), chunk_(chunk), window_(w) {}

  // The next event into out (decoded in place: an event is a few hundred bytes, and
  // moving each through optionals showed in the profile); false at the end.
  bool next(ReplayedEvent& out) {
    for (;;) {
      if (!reader_ && !open_next()) return false;
      while (auto rec = reader_->next()) {
        if (rec->kind == journal::RecordKind::Counters) {
          if (auto t = journal::decode_totals(rec->payload)) summary().totals = *t;
          continue;
        }
        if (rec->kind != journal::RecordKind::Event) continue;
        DecodeError err;
        if (!decoder_.decode(rec->payload, out.event, &err)) {
          ++out_.decode_errors;
          if (decode_errors_++ == 0) {
            first_decode_error_ = reader_->name() + ": offset " + std::to_string(rec->offset) +
                                  ": undecodable event record (" + err.message + ")";
          }
          continue;
        }
        adopt(out);
        return true;
      }
      close_file();
    }
  }

  // Reading stopped before the end on purpose (--until): say nothing about the rest.
  void abandon() {
    reader_.reset();
    file_src_.reset();
    file_ = src_.files.size();
  }

 private:
  SourceSummary& summary() { return out_.sources[index_]; }

  bool skip(size_t i) const {
    const JournalFile& f = src_.files[i];
    if (window_.until_wall_ns && f.meta.created_wall_ns > *window_.until_wall_ns + window_.lookahead_ns) {
      return true;  // opened after the window: all of it is later
    }
    if (window_.since_wall_ns && i + 1 < src_.files.size()) {
      const int64_t next_start = src_.files[i + 1].meta.created_wall_ns;
      // the next file was opened before the window began: all of this one is earlier
      if (next_start != 0 && next_start < *window_.since_wall_ns - window_.lookback_ns) return true;
    }
    return false;
  }

  bool open_next() {
    for (; file_ < src_.files.size(); ++file_) {
      if (skip(file_)) {
        ++out_.files_skipped;
        continue;
      }
      const JournalFile& f = src_.files[file_];
      std::string err;
      file_src_ = journal::FileSource::open(f.path, &err);
      if (!file_src_) {
        out_.problems.push_back(f.path + ": offset 0: " + err + " (it could be read when listed)");
        summary().ended_cleanly = false;
        continue;
      }
      reader_.emplace(*file_src_, f.path, chunk_);
      if (!reader_->read_header()) {
        out_.problems.push_back(reader_->error()->line());
        summary().ended_cleanly = false;
        reader_.reset();
        continue;
      }
      clock_ = reader_->meta().clock;
      decode_errors_ = 0;
      seek_to_window();
      return true;
    }
    return false;
  }

  // --since inside a long file: bisect on offsets (resynchronising on the
  // next valid record, like after corruption) instead of reading from the start.
  void seek_to_window() {
    if (!window_.since_wall_ns) return;
    const int64_t target = *window_.since_wall_ns - window_.lookback_ns;
    if (reader_->meta().created_wall_ns >= target) return;
    const uint64_t start = reader_->offset();
    uint64_t lo = start, hi = file_src_->size_at_open();
    while (hi > lo && hi - lo > (1u << 16)) {
      const uint64_t mid = lo + (hi - lo) / 2;
      reader_->seek(mid);
      std::optional<int64_t> ts;
      for (int i = 0; i < 64 && !ts; ++i) {
        auto rec = reader_->next();
        if (!rec) break;
        DecodeError err;
        if (rec->kind == journal::RecordKind::Event) {
          if (auto ev = decoder_.decode(rec->payload, &err)) ts = clock_.to_wall_ns(ev->ts_ns);
        }
      }
      if (ts && *ts < target) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    reader_->seek(lo);
  }

  void close_file() {
    const journal::Reader& r = *reader_;
    for (const journal::ReadError& e : r.problems()) out_.problems.push_back(e.line());
    if (r.corrupt_regions() > r.problems().size() + (r.error() ? 1 : 0)) {
      out_.problems.push_back(r.name() + ": offset " + std::to_string(r.offset()) + ": " +
                              thousands(r.corrupt_regions()) + " corrupt regions in all, " +
                              thousands(r.skipped_bytes()) + " bytes skipped");
    }
    out_.skipped_bytes += r.skipped_bytes();
    if (r.corrupt_regions()) summary().ended_cleanly = false;
    if (const auto& e = r.error()) {
      out_.problems.push_back(e->line() + "; the " + thousands(r.records()) +
                              " records before it were read");
      summary().ended_cleanly = false;
    } else if (!r.saw_end_record()) {
      out_.problems.push_back(r.name() + ": offset " + std::to_string(r.offset()) +
                              ": no end record: the recorder did not stop cleanly (killed, "
                              "crashed or still running); all " +
                              thousands(r.records()) + " records were read");
      summary().ended_cleanly = false;
    }
    if (r.records_after_end()) {
      out_.problems.push_back(r.name() + ": offset " + std::to_string(r.offset()) + ": " +
                              thousands(r.records_after_end()) +
                              " records after the end record (appended later?): read as well");
    }
    if (decode_errors_) {
      out_.problems.push_back(first_decode_error_ + (decode_errors_ > 1 ? "; " + thousands(decode_errors_) +
                                                                              " in this file, skipped"
                                                                        : ", skipped"));
    }
    reader_.reset();
    file_src_.reset();
    ++file_;
  }

  void adopt(ReplayedEvent& out) {
    Event& ev = out.event;
    const int64_t wall = clock_.to_wall_ns(ev.ts_ns);
    ev.ts_ns = wall > 0 ? static_cast<uint64_t>(wall) : 0;
    if (ev.cookie != 0) ev.cookie = report_cookie(index_, ev.cookie);
    out.source = index_;
    ++summary().events;
  }

  const Source& src_;
  size_t index_;
  ReplayOutcome& out_;
  size_t chunk_;
  ReplayWindow window_;
  size_t file_ = 0;
  std::unique_ptr<journal::FileSource> file_src_;
  std::optional<journal::Reader> reader_;
  ClockMap clock_;
  Decoder decoder_;
  uint64_t decode_errors_ = 0;
  std::string first_decode_error_;
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
                     const std::function<void(const ReplayedEvent&)>& on_event, const ReplayWindow& window) {
  ReplayOutcome out;
  std::vector<std::unique_ptr<SourceStream>> streams;
  // one read window per host: 64 MiB in all at most, 1 MiB each at most
  const size_t n = std::max<size_t>(set.sources.size(), 1);
  const size_t chunk = std::clamp<size_t>((64u << 20) / n, 16u << 10, 1u << 20);
  for (size_t i = 0; i < set.sources.size(); ++i) {
    out.sources.push_back(SourceSummary{set.sources[i].label,
                                        set.sources[i].files.empty() ? "" : set.sources[i].files[0].meta.kernel,
                                        set.sources[i].files.size(), 0, {}, true});
    streams.push_back(std::make_unique<SourceStream>(set.sources[i], i, out, chunk, window));
  }
  // k-way merge by wall time: the heads of each source's stream
  using Head = std::pair<uint64_t, size_t>;
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  // each source's next event, in its own slot: processed there, then overwritten by the one after
  std::vector<ReplayedEvent> pending(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    if (streams[i]->next(pending[i])) heads.emplace(pending[i].event.ts_ns, i);
  }
  const std::optional<int64_t> stop_after =
      window.until_wall_ns ? std::optional<int64_t>(*window.until_wall_ns + window.lookahead_ns) : std::nullopt;
  uint64_t now = 0;
  while (!heads.empty()) {
    const size_t i = heads.top().second;
    if (stop_after && static_cast<int64_t>(heads.top().first) > *stop_after) {
      for (auto& s : streams) s->abandon();  // everything left is later still
      break;
    }
    heads.pop();
    const ReplayedEvent& ev = pending[i];
    const auto wall = static_cast<int64_t>(ev.event.ts_ns);
    if (out.events++ == 0) out.first_wall_ns = wall;
    out.first_wall_ns = std::min(out.first_wall_ns, wall);
    out.last_wall_ns = std::max(out.last_wall_ns, wall);
    if (on_event) on_event(ev);
    if (pipeline) {
      // event time drives the correlator: what is older than the settle time is reported
      if (ev.event.ts_ns > now) {
        now = ev.event.ts_ns;
        pipeline->tick(now);
      }
      pipeline->on_event(ev.event);
    }
    if (streams[i]->next(pending[i])) heads.emplace(pending[i].event.ts_ns, i);
  }
  if (pipeline) {
    journal::KernelTotals sum;
    for (const SourceSummary& s : out.sources) {
      sum.events += s.totals.events;
      sum.lost += s.totals.lost;
      sum.call_table_full += s.totals.call_table_full;
      sum.states_folded += s.totals.states_folded;
      sum.close_unmatched += s.totals.close_unmatched;
    }
    pipeline->update_kernel_counters(sum.events, sum.lost, sum.call_table_full, sum.states_folded,
                                     sum.close_unmatched);
  }
  return out;
}

}  // namespace connreset::report
