#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "commands/commands.h"
#include "scenarios/netns.h"
#include "scenarios/scenarios.h"
#include "sinks/collecting_sink.h"
#include "sinks/json_sink.h"
#include "sinks/text_sink.h"

namespace connreset {
namespace {

bool involves_port(const Explanation& x, uint16_t port) {
  return x.reset.local.port == port || x.reset.remote.port == port;
}

}  // namespace

int run_demo(TraceArgs args) {
  if (std::string err = resolve_trace_args(args); !err.empty()) {
    std::fprintf(stderr, "connreset demo: %s\n", err.c_str());
    return 2;
  }
  // narration goes to stderr in JSON mode so stdout stays pure JSON lines
  std::FILE* say = args.format == OutputFormat::Text ? stdout : stderr;
  std::string err;
  uint32_t netns = enter_private_netns(&err);
  if (netns == 0) {
    std::fprintf(say, "note: no private network namespace (%s); using this one\n", err.c_str());
    netns = current_netns();
  }
  args.live.command = "demo";
  args.live.filter.netns = netns;

  CollectingSink collector;
  std::unique_ptr<Sink> out = make_output_sink(args.format, stdout);
  std::unique_ptr<LiveSession> session;
  try {
    session = std::make_unique<LiveSession>(args.live, std::vector<Sink*>{out.get(), &collector});
  } catch (const TracerError& e) {
    std::fprintf(stderr, "connreset demo: %s\n(run `connreset doctor` for details)\n", e.what());
    return 1;
  }
  if (std::string perr = drop_privileges(); !perr.empty()) out->warning("could not drop privileges: " + perr);
  session->start_background();

  const auto wait = std::chrono::milliseconds(args.settle_ms * 4 + 2000);
  int failures = 0;
  char letter = 'a';
  for (const Scenario& sc : demo_scenarios()) {
    std::fprintf(say, "\n== (%c) %s ==\n", letter++, sc.title.c_str());
    std::fflush(say);
    const ScenarioOutcome o = sc.run();
    if (!o.ok()) {
      std::fprintf(say, "   scenario failed to run: %s\n", o.error.c_str());
      ++failures;
      continue;
    }
    auto on_port = [&](const Explanation& x) { return involves_port(x, o.server_port); };
    if (!o.expected_cause) {
      std::this_thread::sleep_for(std::chrono::milliseconds(args.settle_ms * 2 + 300));
      const size_t seen = collector.matching(on_port).size();
      std::fprintf(say, "   client saw %s; %s\n", o.client_result.c_str(),
                   seen == 0 ? "no reset traced - as expected for an orderly close"
                             : "UNEXPECTED: a reset was traced");
      failures += seen == 0 ? 0 : 1;
      continue;
    }
    const auto x = collector.wait_for(on_port, wait);
    if (!x) {
      std::fprintf(say, "   client saw %s, but no reset was traced (expected %s)\n",
                   o.client_result.c_str(), cause_id(*o.expected_cause).data());
      ++failures;
    } else if (x->cause != o.expected_cause) {
      std::fprintf(say, "   traced cause %s, expected %s\n", cause_id(x->cause).data(),
                   cause_id(*o.expected_cause).data());
      ++failures;
    }
  }
  session->stop_background();
  session->finish();
  std::fprintf(say, "\ndemo: %d of %zu scenarios explained as expected\n",
               static_cast<int>(demo_scenarios().size()) - failures, demo_scenarios().size());
  return failures == 0 ? 0 : 1;
}

}  // namespace connreset
