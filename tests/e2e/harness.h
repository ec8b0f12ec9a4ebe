#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/live_session.h"
#include "scenarios/scenarios.h"
#include "sinks/collecting_sink.h"

namespace connreset::e2e {

void set_family(FamilyChoice family, const std::string& name);
FamilyChoice family();
const std::string& family_name();

// Every test: a private network namespace (entered once per process) and a
// live tracer filtered to it, polling in the background.
class LiveTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The reset on the scenario's port, waiting up to a few settle periods.
  std::optional<Explanation> reset_on_port(uint16_t port);
  std::vector<Explanation> resets_on_port(uint16_t port);
  static uint32_t netns();

  CollectingSink sink_;
  std::unique_ptr<LiveSession> session_;
  LiveOptions options_;
  bool filter_netns_ = true;  // only the test's private namespace
};

}  // namespace connreset::e2e
