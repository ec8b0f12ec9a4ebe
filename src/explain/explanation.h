#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <optional>
#include <string>

#include "correlate/reset_case.h"
#include "enrich/workload.h"
#include "explain/causes.h"
#include "explain/remote.h"

namespace connreset {

struct Linger {
  bool on = false;
  double seconds = 0;
};

// A reset, judged: the cause from the catalog, the evidence, one plain
// sentence and the advice. Sinks render this and nothing else.
struct Explanation {
  Cause cause = Cause::RemoteUnknown;  // cause_id() gives the stable id
  ResetCase reset;
  std::string rst_reason;   // kernel enum name, "" when the kernel has none
  std::string kernel_path;  // how the kernel got there
  std::string because;      // what happened, one sentence
  std::string advice;       // what to change
  std::optional<uint32_t> unread_bytes;
  std::optional<Linger> linger;
  // Container and pod of the tasks named above, by pid (enrichment; empty when off)
  std::unordered_map<uint32_t, std::shared_ptr<const Workload>> workloads;
  const Workload* workload_of(const std::optional<TaskRef>& t) const {
    if (!t) return nullptr;
    auto it = workloads.find(t->pid);
    return it == workloads.end() ? nullptr : it->second.get();
  }
  // What each end's kernel record said, in words, so that sinks never read raw events.
  bool rst_sent_locally = false;      // this host's stack sent the RST
  bool rst_received_locally = false;  // a socket on this host processed it
  std::optional<uint32_t> sent_netns;      // network namespace the RST left from
  std::optional<uint32_t> received_netns;  // ...and arrived in
  std::optional<std::string> sender_state;    // TCP state of the sending socket (none: no socket)
  std::optional<std::string> receiver_state;  // of the receiving socket
  // An RST from another host explained from this host's evidence alone (explain/remote.h):
  // the cause is an inference; merging the sender's journal (`report`) replaces it.
  bool inferred = false;
  std::optional<RemoteEvidence> evidence;
};

}  // namespace connreset
