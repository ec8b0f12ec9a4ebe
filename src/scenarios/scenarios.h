#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace connreset {

// What one reproduced situation did, for the demo to print and the e2e tests to assert.
struct ScenarioOutcome {
  std::string name;
  std::string title;
  std::string expected_cause;  // "" = no reset expected
  pid_t server_pid = 0;
  pid_t client_pid = 0;
  std::string server_comm;
  std::string client_comm;
  uint16_t server_port = 0;
  uint32_t expected_unread = 0;
  std::string client_result;  // what the client's last call returned: ECONNRESET, EOF, ECONNREFUSED
  std::string error;          // set when the scenario itself failed to run
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

const std::vector<Scenario>& demo_scenarios();

inline constexpr uint32_t kUnreadScenarioBytes = 20000;  // left unread by the server, exactly

}  // namespace connreset
