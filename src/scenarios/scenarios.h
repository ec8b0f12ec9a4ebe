#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "explain/causes.h"

namespace connreset {

// What one reproduced situation did, for the demo to print and the e2e tests to assert.
struct ScenarioOutcome {
  std::string name;
  std::string title;
  std::optional<Cause> expected_cause;  // nullopt = no reset expected
  pid_t server_pid = 0;
  pid_t client_pid = 0;
  std::string server_comm;
  std::string client_comm;
  uint16_t server_port = 0;
  uint32_t expected_unread = 0;
  std::string client_result;  // what the client's last call returned: ECONNRESET, EOF, ECONNREFUSED
  std::string server_result;
  pid_t actor_pid = 0;        // a third task that caused the reset (killer, worker, handler)
  std::string actor_comm;
  uint32_t server_netns = 0;  // set by scenarios that use namespaces of their own
  uint32_t client_netns = 0;
  std::string error;          // set when the scenario itself failed to run
  std::string notes;          // how the scenario made its case certain, for failure messages
  bool ok() const { return error.empty(); }
};

struct Scenario {
  std::string name;
  std::string title;
  ScenarioOutcome (*run)();
};

// Each forks a server and a client process (real sockets on 127.0.0.1 in the
// caller's network namespace), waits for both and reports what they saw.
ScenarioOutcome run_unread_data_at_close();
ScenarioOutcome run_linger_zero_close();
ScenarioOutcome run_connection_refused();
ScenarioOutcome run_clean_close();

// The rest of the catalog (cause_scenarios.cpp).
ScenarioOutcome run_data_after_close();
ScenarioOutcome run_write_after_peer_close();
ScenarioOutcome run_disconnect();
ScenarioOutcome run_fin_wait2_abort();
ScenarioOutcome run_killed_with_unread();
ScenarioOutcome run_fork_shared_close();
ScenarioOutcome run_fd_passed_close();
ScenarioOutcome run_socket_destroyed();
ScenarioOutcome run_unknown_connection();
ScenarioOutcome run_remote_injected_reset();
ScenarioOutcome run_protocol_violation();
ScenarioOutcome run_recv_loop_after_end();
ScenarioOutcome run_ignored_reset();
// netns_scenarios.cpp
ScenarioOutcome run_cross_netns_unread();
ScenarioOutcome run_keepalive_timeout();
// Needs net.ipv4.tcp_max_orphans = 0, a host-wide sysctl: limit_orphans() sets it and
// restore() puts it back, around the close (VMs only).
ScenarioOutcome run_orphan_memory_pressure(const std::function<void()>& limit_orphans,
                                           const std::function<void()>& restore);

const std::vector<Scenario>& demo_scenarios();

inline constexpr uint32_t kUnreadScenarioBytes = 20000;  // left unread by the server, exactly

}  // namespace connreset
