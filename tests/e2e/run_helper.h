#pragma once

namespace connreset::e2e {

// The e2e binary doubles as the command `connreset run` runs in tests:
// `connreset_e2e --run-helper STEP [ARGS] [STEP [ARGS]]...` (also in the VMs,
// where no other program of ours exists). Returns the exit code.
int run_helper(int argc, char** argv);

}  // namespace connreset::e2e
