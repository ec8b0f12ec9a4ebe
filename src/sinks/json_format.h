#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "explain/explanation.h"
#include "sinks/sink.h"

namespace connreset {

inline constexpr const char* kJsonSchema = "connreset/1";

// The JSON objects of the README's "JSON lines" (stable fields: add, never rename), shared by
// trace --json, run --json and report --json. Rendered from the Explanation alone, never from
// the kernel records inside it (docs/architecture.md, "Stages").
nlohmann::json reset_to_json(const Explanation& x, const ClockMap& clock);
// A reset's `evidence` object (RSTs from another host, explain/remote.h).
nlohmann::json evidence_to_json(const RemoteEvidence& e);
nlohmann::json lifecycle_to_json(const LifecycleEvent& ev, const ClockMap& clock);
nlohmann::json finding_to_json(const Finding& f, const ClockMap& clock);
nlohmann::json meta_to_json(const RunInfo& info);
nlohmann::json stats_to_json(const RunStats& stats);

// One line, never throwing on bytes that are not UTF-8 (process names can hold anything).
std::string dump_line(const nlohmann::json& j);

}  // namespace connreset
