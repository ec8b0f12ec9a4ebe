#include "pipeline/filter.h"

#include <vector>

namespace connreset {
namespace {

// Every task a reset names (no list built: this runs for every reset).
template <typename Pred>
bool any_task(const ResetCase& c, Pred pred) {
  if (c.sender && pred(*c.sender)) return true;
  if (c.receiver && pred(*c.receiver)) return true;
  if (c.actor && pred(*c.actor)) return true;
  if (c.closer && pred(c.closer->task)) return true;
  for (const Observation& o : c.observed) {
    if (pred(o.task)) return true;
  }
  return false;
}

}  // namespace

bool Filter::matches(const Explanation& x) const {
  const ResetCase& c = x.reset;
  if (pid && !any_task(c, [&](const TaskRef& t) { return t.pid == *pid; })) return false;
  if (comm && !any_task(c, [&](const TaskRef& t) { return t.comm == *comm; })) return false;
  if (cgroup && !any_task(c, [&](const TaskRef& t) { return t.cgroup == *cgroup; })) return false;
  if (process_tree && !any_task(c, [&](const TaskRef& t) { return process_tree(t.pid); })) return false;
  if (port && c.local.port != *port && c.remote.port != *port) return false;
  if (netns) {
    const bool sender_ns = x.sent_netns == *netns;
    const bool receiver_ns = x.received_netns == *netns;
    if (!sender_ns && !receiver_ns && c.netns != *netns) return false;
  }
  return true;
}

bool Filter::matches(const LifecycleEvent& ev) const {
  const Event& e = ev.event;
  const TaskRef* t = ev.owner ? &*ev.owner : nullptr;
  if (pid && (!t || t->pid != *pid)) return false;
  if (comm && (!t || t->comm != *comm)) return false;
  if (cgroup && (!t || t->cgroup != *cgroup)) return false;
  if (process_tree && (!t || !process_tree(t->pid))) return false;
  if (port && e.local.port != *port && e.remote.port != *port) return false;
  if (netns && e.netns != *netns) return false;
  return true;
}

bool Filter::matches(const Finding& f) const {
  if (pid && f.task.pid != *pid) return false;
  if (comm && f.task.comm != *comm) return false;
  if (cgroup && f.task.cgroup != *cgroup) return false;
  if (process_tree && !process_tree(f.task.pid)) return false;
  if (port && f.local.port != *port && f.remote.port != *port) return false;
  if (netns && f.netns != *netns) return false;
  return true;
}

}  // namespace connreset
