// connreset report: journals from one or more hosts, replayed through the
// same pipeline as live tracing, streamed out as text or JSON lines as each
// reset settles; the HTML page (bounded: samples per cause) is written at the end.
#include <malloc.h>
#include <sys/resource.h>

#include <cstdio>
#include <memory>

#include "commands/commands.h"
#include "common/escape.h"
#include "report/journal_set.h"
#include "report/render.h"
#include "report/report_model.h"
#include "report/summary.h"

namespace connreset {
namespace {

int fail(const std::string& msg, int code) {
  std::fprintf(stderr, "connreset report: %s\n", escape_for_terminal(msg).c_str());
  return code;
}

// Sends the stream to stdout's writer and to the HTML page's.
class Tee : public report::ReportWriter {
 public:
  Tee(report::ReportWriter& a, report::ReportWriter* b) : a_(a), b_(b) {}
  void begin(const report::ReportHeader& h) override {
    a_.begin(h);
    if (b_) b_->begin(h);
  }
  void reset(const report::ConnectionReport& c) override {
    a_.reset(c);
    if (b_) b_->reset(c);
  }
  void take_reset(report::ConnectionReport& c) override {
    a_.reset(c);
    if (b_) b_->take_reset(c);  // the last to read it
  }
  void finding(const Finding& f) override {
    a_.finding(f);
    if (b_) b_->finding(f);
  }
  void end(const report::ReportEnd& e) override {
    // problems go to stderr as one line each, whatever the output format
    for (const std::string& p : e.problems) fail("warning: " + p, 0);
    a_.end(e);
    if (b_) b_->end(e);
  }
  bool wants_timelines() const override { return a_.wants_timelines() || (b_ && b_->wants_timelines()); }

 private:
  report::ReportWriter& a_;
  report::ReportWriter* b_;
};

const char* kTimeForms = "expected RFC 3339 UTC (2026-11-24T13:00:00Z), Unix seconds, or a time ago (15m, 2h, 1d) "
                         "before 2262";

}  // namespace

int run_report(const ReportArgs& args) {
  const auto format = parse_output_format(args.json ? "json" : args.output);
  if (!format) return fail("-o " + args.output + ": expected text, json or columns", 2);
  report::ReportOptions opt;
  opt.correlator.settle_ns = static_cast<uint64_t>(args.settle_ms) * 1'000'000;
  opt.correlator.pair_window_ns = static_cast<uint64_t>(args.skew_ms) * 1'000'000;
  if (args.pid) opt.filter.pid = args.pid;
  if (!args.comm.empty()) opt.filter.comm = args.comm;
  if (args.port) opt.filter.port = args.port;
  for (const std::string& id : args.causes) opt.narrow.causes.push_back(parse_cause(id));  // checked by the CLI
  if (!args.since.empty() && !(opt.narrow.since_wall_ns = report::parse_time(args.since))) {
    return fail("--since " + args.since + ": " + kTimeForms, 2);
  }
  if (!args.until.empty() && !(opt.narrow.until_wall_ns = report::parse_time(args.until))) {
    return fail("--until " + args.until + ": " + kTimeForms, 2);
  }
  // one file per host is open at a time: many hosts need many descriptors
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  // Freed memory stays with the process: the correlator frees and allocates sockets
  // by the million, and glibc returned the top of the heap (and every large table,
  // mmap'd) to the kernel only to fault the same pages in again moments later (a
  // tenth of a storm report's time, zeroing pages). Memory stays bounded: what is
  // kept is at most the peak that was in use.
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);

  const report::JournalSet set = report::open_journals(args.inputs);
  if (set.files_read == 0) {
    for (const std::string& p : set.problems) fail(p, 1);
    return fail("nothing could be read", 1);
  }
  static char stdout_buf[1 << 16];
  std::setvbuf(stdout, stdout_buf, _IOFBF, sizeof(stdout_buf));
  report::Output out(stdout);
  std::unique_ptr<report::ReportWriter> main_writer;
  switch (*format) {
    case OutputFormat::Json: main_writer = std::make_unique<report::JsonReportWriter>(out); break;
    case OutputFormat::Columns: main_writer = std::make_unique<report::ColumnsReportWriter>(out); break;
    case OutputFormat::Text: main_writer = std::make_unique<report::TextReportWriter>(out); break;
  }
  std::unique_ptr<report::HtmlReportWriter> html;
  if (!args.html.empty()) html = std::make_unique<report::HtmlReportWriter>(args.html_per_cause);
  Tee tee(*main_writer, html.get());
  report::stream_report(set, opt, tee);
  out.flush();
  std::fflush(stdout);

  if (html) {
    std::string err;
    if (!report::write_private_file(args.html, html->page(), &err)) return fail(err, 1);
  }
  if (out.failed()) return fail("writing the report to stdout failed", 1);
  return 0;
}

}  // namespace connreset
