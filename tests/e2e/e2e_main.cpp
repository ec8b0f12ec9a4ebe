// e2e tests: real kernel, real sockets, root. CONNRESET_PROBES selects the
// probe family (auto when unset). When a family was asked for explicitly and
// this kernel cannot provide it, the binary says UNSUPPORTED and exits 77
// (scripts/vmtest.sh counts that as "unsupported", not as a pass). With no
// family asked for, an unusable kernel is a failure, never a skip.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "e2e/harness.h"
#include "e2e/run_helper.h"
#include "probes/attach_plan.h"
#include "probes/features.h"

int main(int argc, char** argv) {
  // the commands `connreset run` runs in tests/e2e/run_test.cpp
  if (argc > 1 && std::strcmp(argv[1], "--run-helper") == 0) return connreset::e2e::run_helper(argc - 2, argv + 2);
  ::testing::InitGoogleTest(&argc, argv);
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing |= std::strncmp(argv[i], "--gtest_list_tests", 18) == 0;
  if (listing) return RUN_ALL_TESTS();

  const char* requested = std::getenv("CONNRESET_PROBES");
  const auto family = connreset::parse_family_choice(requested ? requested : "auto");
  if (!family) {
    std::fprintf(stderr, "CONNRESET_PROBES=%s: expected auto, tracepoint, fentry or kprobe\n", requested);
    return 2;
  }
  const auto plan = connreset::plan_for_running_kernel(*family);
  if (!plan.usable()) {
    const bool explicit_family = requested && std::strcmp(requested, "auto") != 0;
    std::printf("%s: probe family %s: %s\n", explicit_family ? "UNSUPPORTED" : "FATAL",
                requested ? requested : "auto", plan.problems.front().c_str());
    return explicit_family ? 77 : 1;
  }
  connreset::e2e::set_family(*family, requested ? requested : "auto");
  return RUN_ALL_TESTS();
}
