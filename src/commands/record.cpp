// connreset record: the live pipeline with the journal (and optionally the
// metrics endpoint) as its consumers, until SIGINT/SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>

#include "commands/commands.h"
#include "common/clock.h"
#include "common/escape.h"
#include "journal/recorder.h"
#include "journal/writer.h"
#include "metrics/http_server.h"
#include "metrics/metrics_sink.h"
#include "sinks/json_sink.h"
#include "sinks/output.h"

namespace connreset {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reopen{false};

void on_stop(int) { g_stop = true; }
void on_hup(int) { g_reopen = true; }

void install_handlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_hup;
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Warnings go to stderr (the journal of the service manager); explanations
// are printed only with --json (JSON lines on stdout): otherwise `report` is for them.
class StderrWarnings : public Sink {
 public:
  void reset(const Explanation&) override {}
  void warning(const std::string& text) override {
    std::fprintf(stderr, "connreset record: warning: %s\n", escape_for_terminal(text).c_str());
  }
  bool wants_explanations() const override { return false; }
};

// The pipeline has one observer: hand each event and counter update to the
// journal and the metrics.
class RecordObserver : public EventObserver {
 public:
  RecordObserver(journal::Recorder& rec, metrics::MetricsSink* m) : rec_(rec), metrics_(m) {}
  void event(const Event& ev, std::span<const std::byte> raw) override { rec_.event(ev, raw); }
  void raw_event(std::span<const std::byte> raw, uint32_t netns) override { rec_.raw_event(raw, netns); }
  bool wants_decoded() const override { return false; }
  void counters(const RunStats& st) override {
    rec_.counters(st);
    if (metrics_) metrics_->counters(st);
  }

 private:
  journal::Recorder& rec_;
  metrics::MetricsSink* metrics_;
};

int fail(const std::string& msg, int code) {
  std::fprintf(stderr, "connreset record: %s\n", msg.c_str());
  return code;
}

}  // namespace

int run_record(RecordArgs args) {
  if (std::string err = resolve_trace_args(args.trace); !err.empty()) return fail(err, 2);
  args.trace.live.command = "record";
  // --all is for the journal (tracer.all_states): --json still prints explained resets only
  args.trace.live.correlator.lifecycle = false;
  if (args.port) {
    args.trace.live.filter.port = args.port;
    args.trace.live.tracer.filter_port = args.port;
  }
  const sandbox::RunAs& run_as = args.trace.run_as;
  // Everything the steady state needs is opened before the probes are
  // attached and privileges dropped: the journal directory's handle (checked:
  // the user record becomes must be able to write there), the metrics socket.
  // the metrics socket first: a bad --metrics must not leave a new directory behind
  StderrWarnings warnings;
  metrics::Registry registry;
  std::unique_ptr<metrics::MetricsSink> metrics_sink;
  std::unique_ptr<metrics::HttpServer> server;
  if (!args.metrics.empty()) {
    metrics_sink = std::make_unique<metrics::MetricsSink>(registry);
    registry.describe("connreset_journal_bytes_total", metrics::Registry::Type::Counter,
                      "Bytes written to the journal");
    registry.describe("connreset_journal_files", metrics::Registry::Type::Gauge,
                      "Journal files in the output directory");
    try {
      server = std::make_unique<metrics::HttpServer>(
          args.metrics, [&registry] { return registry.exposition(); }, /*start_now=*/false);
    } catch (const metrics::ServerError& e) {
      return fail(e.what(), 2);
    }
    if (!server->loopback()) {
      warnings.warning("--metrics " + server->bound_address() + " is reachable from other hosts: the "
                       "metrics (process names, reset counts) are served without authentication");
    }
  }
  std::unique_ptr<journal::Writer> writer;
  try {
    writer = std::make_unique<journal::Writer>(journal::WriterOptions{
        .dir = args.out, .max_file_bytes = args.max_size, .max_files = args.max_files,
        .writer_uid = run_as.uid, .writer_gid = run_as.gid});
  } catch (const journal::WriterError& e) {
    return fail(e.what(), 2);
  }
  if (!writer->note().empty()) warnings.warning(writer->note());
  install_handlers();

  journal::Recorder recorder(*writer, args.trace.live.filter.netns);
  RecordObserver observer(recorder, metrics_sink.get());
  args.trace.live.observer = &observer;
  // --json: the explanations on stdout too, for a log pipeline (a DaemonSet's stdout is
  // collected per node); warnings then go there as JSON lines as well as to stderr.
  std::unique_ptr<JsonSink> json;
  std::vector<Sink*> sinks{&recorder, &warnings};
  if (args.trace.json) {
    buffer_stdout_for_batches();
    json = std::make_unique<JsonSink>(stdout);
    sinks.push_back(json.get());
  }
  if (metrics_sink) sinks.push_back(metrics_sink.get());

  std::unique_ptr<LiveSession> session;
  try {
    session = std::make_unique<LiveSession>(args.trace.live, sinks);
  } catch (const TracerError& e) {
    return fail(std::string(e.what()) + "\n(run `connreset doctor` for details)", 1);
  } catch (const journal::WriterError& e) {
    return fail(e.what(), 1);
  }
  // the metrics thread starts as the unprivileged user; the filter covers it too (TSYNC)
  std::string err = drop_to_user(args.trace);
  if (err.empty() && server) server->start();
  if (err.empty()) err = confine_steady_state(sandbox::Policy{.create_files = true, .serve_tcp = server != nullptr});
  if (!err.empty()) return fail(err + " (--user root keeps uid 0 without capabilities)", 1);
  if (args.trace.live.tracer.verbose) {
    std::fprintf(stderr, "connreset record: attached; now %s\n", sandbox::status_summary().c_str());
  }
  std::fprintf(stderr, "connreset record: journaling to %s%s%s\n", writer->current_path().c_str(),
               server ? ", metrics at http://" : "",
               server ? (server->bound_address() + "/metrics").c_str() : "");

  std::string error;
  auto stop = [&] {
    try {
      if (g_reopen.exchange(false)) {
        writer->reopen();
        std::fprintf(stderr, "connreset record: SIGHUP: now writing %s\n", writer->current_path().c_str());
      }
      if (std::string note = writer->sync_if_due(monotonic_now_ns()); !note.empty()) warnings.warning(note);
    } catch (const journal::WriterError& e) {
      error = e.what();
    }
    if (server) {
      registry.set("connreset_journal_bytes_total", {}, static_cast<double>(writer->stats().bytes));
      registry.set("connreset_journal_files", {}, static_cast<double>(writer->stats().files_opened -
                                                                      writer->stats().files_deleted));
    }
    if (error.empty()) error = recorder.error();
    return g_stop.load() || !error.empty();
  };
  try {
    session->run(stop, std::nullopt);
  } catch (const TracerError& e) {
    error = e.what();
  }
  session->finish();  // drains the ring buffer into the journal
  try {
    writer->close();
  } catch (const journal::WriterError& e) {
    if (error.empty()) error = e.what();
  }
  session.reset();    // detaches every probe
  if (error.empty()) error = recorder.error();
  // Claim only what can still be read: rotation (--max-files) or someone
  // else may have deleted files this run wrote.
  const uint64_t written = writer->stats().events;
  const uint64_t kept = writer->events_on_disk();
  if (!error.empty()) {
    return fail(error + "\n" + std::to_string(kept) + " events of this run are in " + args.out, 1);
  }
  if (kept == written) {
    std::fprintf(stderr, "connreset record: stopped; %llu events journaled in %s\n",
                 static_cast<unsigned long long>(kept), args.out.c_str());
  } else {
    std::fprintf(stderr,
                 "connreset record: stopped; %llu events written, %llu of them still in %s (the rest "
                 "were in files deleted since: --max-files rotation, or by someone else)\n",
                 static_cast<unsigned long long>(written), static_cast<unsigned long long>(kept),
                 args.out.c_str());
  }
  return 0;
}

}  // namespace connreset
