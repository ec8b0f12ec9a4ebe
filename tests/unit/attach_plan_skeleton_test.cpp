// The attach plan names BPF programs by string; the object defines them with
// SEC(). Opening the skeleton (no load, so no privileges) checks that the two
// agree in both directions, and that each program hooks what the plan says.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "connreset.skel.h"
#include "probes/attach_plan.h"
#include "probes/tracer.h"

namespace connreset {
namespace {

struct SkelCloser {
  void operator()(connreset_bpf* s) const { connreset_bpf__destroy(s); }
};

// program name -> section ("tp_btf/tcp_send_reset")
std::map<std::string, std::string> object_programs() {
  std::unique_ptr<connreset_bpf, SkelCloser> skel(connreset_bpf__open());
  if (!skel) ADD_FAILURE() << "connreset_bpf__open failed: " << errno;
  std::map<std::string, std::string> out;
  if (!skel) return out;
  bpf_program* p = nullptr;
  bpf_object__for_each_program(p, skel->obj) {
    out[bpf_program__name(p)] = bpf_program__section_name(p);
  }
  return out;
}

bool section_fits_family(const std::string& section, ProbeFamily f) {
  auto starts = [&](std::string_view prefix) { return section.rfind(prefix, 0) == 0; };
  switch (f) {
    case ProbeFamily::Tracepoint: return starts("tp_btf/");
    case ProbeFamily::Fentry: return starts("fentry/") || starts("fexit/");
    case ProbeFamily::Kprobe: return starts("kprobe/") || starts("kretprobe/");
  }
  return false;
}

std::string hooked(const std::string& section) { return section.substr(section.find('/') + 1); }

TEST(AttachPlanSkeleton, EveryPlannedProgramIsInTheObjectWithTheRightHook) {
  const auto programs = object_programs();
  ASSERT_FALSE(programs.empty());
  for (const LogicalProbe& probe : probe_table()) {
    for (const Implementation& impl : probe.implementations) {
      for (std::string_view name : impl.programs) {
        const auto it = programs.find(std::string(name));
        ASSERT_NE(it, programs.end()) << probe.name << ": no SEC program " << name << " in the object";
        EXPECT_TRUE(section_fits_family(it->second, impl.family))
            << name << " is " << it->second << ", planned as " << family_name(impl.family);
        EXPECT_NE(impl.attach.find(hooked(it->second)), std::string_view::npos)
            << name << " hooks " << it->second << " but the plan says " << impl.attach;
      }
      for (const auto& [name, function] : impl.optional) {
        const auto it = programs.find(std::string(name));
        ASSERT_NE(it, programs.end()) << probe.name << ": no SEC program " << name << " in the object";
        EXPECT_TRUE(section_fits_family(it->second, impl.family)) << name << " is " << it->second;
        EXPECT_EQ(hooked(it->second), function) << name;
      }
    }
  }
}

TEST(AttachPlanSkeleton, ProgramsOutsideThePlanAreInTheObject) {
  const auto programs = object_programs();
  for (std::string_view name : kProcessTreePrograms) {
    EXPECT_TRUE(programs.count(std::string(name))) << name;
  }
}

TEST(AttachPlanSkeleton, EveryProgramInTheObjectIsPlanned) {
  std::set<std::string> planned;
  for (const LogicalProbe& probe : probe_table()) {
    for (const Implementation& impl : probe.implementations) {
      for (std::string_view name : impl.programs) planned.emplace(name);
      for (const auto& opt : impl.optional) planned.emplace(opt.first);
    }
  }
  for (std::string_view name : kProcessTreePrograms) planned.emplace(name);  // outside the plan, by option
  for (const auto& [name, section] : object_programs()) {
    EXPECT_TRUE(planned.count(name)) << name << " (" << section << ") is in the object but no "
                                     << "attach plan entry loads it";
  }
}

}  // namespace
}  // namespace connreset
