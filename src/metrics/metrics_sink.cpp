#include "metrics/metrics_sink.h"

#include "common/escape.h"
#include "explain/causes.h"

namespace connreset::metrics {

using Type = Registry::Type;

MetricsSink::MetricsSink(Registry& r) : registry_(r) {
  r.describe("connreset_resets_total", Type::Counter, "TCP resets explained, by cause");
  r.describe("connreset_resets_by_process_total", Type::Counter,
             "TCP resets explained, by process name and its role (sender of the RST or receiver)");
  r.describe("connreset_findings_total", Type::Counter,
             "Application findings (recv loops after the end, ignored resets), by kind and process");
  r.describe("connreset_events_total", Type::Counter, "Records the kernel probes emitted");
  r.describe("connreset_events_lost_total", Type::Counter,
             "Records the kernel could not queue (ring buffer full)");
  r.describe("connreset_connections_tracked", Type::Gauge, "Sockets in the correlator's table");
  r.describe("connreset_states_folded_total", Type::Counter,
             "TCP state changes the kernel left out because another record implies them (not with --all)");
  r.describe("connreset_close_unmatched_total", Type::Counter,
             "Closes the kernel left out for the RST they announce, which then did not follow (the close went "
             "unreported)");
  r.describe("connreset_warnings_total", Type::Counter, "Warnings the pipeline raised");
  r.describe("connreset_attach_plan_info", Type::Gauge,
             "The implementation chosen for each logical probe (value is always 1)");
  r.describe("connreset_host_info", Type::Gauge, "Host and kernel being traced (value is always 1)");
  // present from the start, so a dashboard sees 0 rather than no data
  r.add("connreset_events_total", {}, 0);
  r.add("connreset_events_lost_total", {}, 0);
  r.add("connreset_states_folded_total", {}, 0);
  r.add("connreset_close_unmatched_total", {}, 0);
  r.set("connreset_connections_tracked", {}, 0);
  // one series per cause of the catalog from the start: rate() and alerts on a
  // cause work before its first reset, and absent() means the exporter is down
  for (const CauseInfo& c : cause_catalog()) r.add("connreset_resets_total", {{"cause", std::string(c.id)}}, 0);
}

void MetricsSink::begin(const RunInfo& info) {
  registry_.set("connreset_host_info", {{"host", escape_for_terminal(info.hostname)}, {"kernel", escape_for_terminal(info.kernel)}}, 1);
  for (const auto& [probe, impl] : info.probes) {
    registry_.set("connreset_attach_plan_info", {{"probe", probe}, {"implementation", impl}}, 1);
  }
}

void MetricsSink::reset(const Explanation& x) {
  const std::string cause(cause_id(x.cause));
  registry_.add("connreset_resets_total", {{"cause", cause}});
  const ResetCase& c = x.reset;
  if (c.sender) {
    registry_.add("connreset_resets_by_process_total",
                  {{"cause", cause}, {"comm", escape_for_terminal(c.sender->comm)}, {"role", "sender"}});
  }
  if (c.receiver) {
    registry_.add("connreset_resets_by_process_total",
                  {{"cause", cause}, {"comm", escape_for_terminal(c.receiver->comm)}, {"role", "receiver"}});
  }
}

void MetricsSink::finding(const Finding& f) {
  registry_.add("connreset_findings_total", {{"finding", f.kind}, {"comm", escape_for_terminal(f.task.comm)}});
}

void MetricsSink::warning(const std::string&) { registry_.add("connreset_warnings_total", {}); }

void MetricsSink::counters(const RunStats& st) {
  registry_.set("connreset_events_total", {}, static_cast<double>(st.events));
  registry_.set("connreset_events_lost_total", {}, static_cast<double>(st.lost));
  registry_.set("connreset_connections_tracked", {}, static_cast<double>(st.sockets_tracked));
  registry_.set("connreset_states_folded_total", {}, static_cast<double>(st.states_folded));
  registry_.set("connreset_close_unmatched_total", {}, static_cast<double>(st.close_unmatched));
}

}  // namespace connreset::metrics
