// The remote-peer e2e binary: boots ONE peer guest for every case (a boot is the slow
// part), in a private network namespace that holds the tap, qemu and the traced client.
//   connreset_remote_e2e [gtest flags]    root; CONNRESET_PEER_KERNEL (default 6.12)
// Exits non-zero when the peer cannot boot: a missing peer is a failure, never a skip.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "e2e/harness.h"
#include "probes/attach_plan.h"
#include "probes/features.h"
#include "remote/peer_vm.h"

namespace {

class PeerEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    connreset::remote::wire().stop();
    connreset::remote::peer().stop();
  }
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--gtest_list_tests", 18) == 0) return RUN_ALL_TESTS();
  }
  using namespace connreset;
  const char* requested = std::getenv("CONNRESET_PROBES");
  const auto family = parse_family_choice(requested ? requested : "auto");
  if (!family) {
    std::fprintf(stderr, "CONNRESET_PROBES=%s: expected auto, tracepoint, fentry or kprobe\n", requested);
    return 2;
  }
  const auto plan = plan_for_running_kernel(*family);
  if (!plan.usable()) {
    std::printf("FATAL: probe family %s: %s\n", requested ? requested : "auto", plan.problems.front().c_str());
    return 1;
  }
  e2e::set_family(*family, requested ? requested : "auto");

  const char* k = std::getenv("CONNRESET_PEER_KERNEL");
  const std::string series = k && *k ? k : "6.12";
  // the download needs the host's network: before entering the private namespace
  if (std::string err = remote::fetch_kernel(series); !err.empty()) {
    std::printf("FATAL: peer kernel: %s\n", err.c_str());
    return 1;
  }
  if (e2e::private_netns() == 0) return 1;
  if (std::string err = remote::peer().start(series); !err.empty()) {
    std::printf("FATAL: peer VM: %s\n", err.c_str());
    remote::peer().stop();
    return 1;
  }
  std::printf("peer VM (kernel %s) answered after %.1f s; console log %s\n", series.c_str(),
              remote::peer().boot_seconds(), remote::peer().log_path().c_str());
  if (std::string err = remote::wire().start(remote::kTap); !err.empty()) {
    std::printf("FATAL: wire capture: %s\n", err.c_str());
    remote::peer().stop();
    return 1;
  }
  ::testing::AddGlobalTestEnvironment(new PeerEnvironment);
  return RUN_ALL_TESTS();
}
