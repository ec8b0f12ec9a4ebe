#pragma once
#include <string>

#include "correlate/reset_case.h"
#include "explain/explanation.h"

namespace connreset {

// Judges a ResetCase: which catalog cause, what evidence, in plain words.
Explanation explain(const ResetCase& reset);

// Adds a finding's advice (the correlator found it; what to change is the explainer's).
Finding explain(Finding finding);

// The cause alone (exposed for tests).
Cause classify(const ResetCase& reset);

// "comm[pid]" with the name escaped for terminals; "" for no task.
std::string task_label(const TaskRef& t);

}  // namespace connreset
