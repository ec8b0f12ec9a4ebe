#include "correlate/correlator.h"

#include <algorithm>

#include <cerrno>
#include <cstring>

#include "common/names.h"

namespace connreset {
namespace {

constexpr size_t kMaxCallTracks = 8;  // per socket: (task, direction) pairs with findings

uint64_t abs_diff(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

std::string close_kind(const Event& ev) {
  if (ev.task_exiting) return "exit";
  return ev.closing_whole_socket() ? "close" : "shutdown";
}

std::string call_name(Call c) { return c == Call::Recv ? "recv" : "send"; }

// Errors after which the connection is over: the socket's error (the RST, a
// retransmission or keepalive timeout, an unreachable peer) or EPIPE/ENOTCONN once
// it is shut. Others (EFAULT, EINVAL, EMSGSIZE, ...) are a bad call, not an end.
bool connection_ended(int err) {
  switch (err) {
    case ECONNRESET: case EPIPE: case ETIMEDOUT: case ECONNREFUSED: case ECONNABORTED:
    case EHOSTUNREACH: case ENETUNREACH: case EHOSTDOWN: case ENOTCONN:
      return true;
    default:
      return false;
  }
}

// What a call that ended the connection returned, as kept per call track: 0 for EOF
// (recv() == 0), else the errno; its name for people is end_name().
int end_code(Phase phase, int32_t ret) { return phase == Phase::Eof ? 0 : -ret; }

std::string end_name(int code) { return code == 0 ? "EOF" : errno_name(code); }

}  // namespace

Correlator::Correlator(CorrelatorOptions options, CorrelatorOutput& out)
    : options_(options), out_(out) {}

CorrelatorStats Correlator::stats() const {
  CorrelatorStats s = stats_;
  s.sockets_tracked = sockets_.size() + retired_.size();
  return s;
}

const Correlator::Socket* Correlator::find_socket(uint64_t cookie, uint64_t gen) const {
  if (const Socket* s = sockets_.find(cookie); s && s->gen == gen) return s;
  auto old = retired_.find(gen);
  return old == retired_.end() ? nullptr : &old->second;
}

Correlator::Owner Correlator::Owner::of(const TaskRef& t) {
  Owner o{t.pid, t.tid, t.cgroup, {}};
  std::copy_n(t.comm.begin(), std::min(t.comm.size(), o.comm.size()), o.comm.begin());
  return o;
}

TaskRef Correlator::Owner::task() const {
  return TaskRef{pid, tid, std::string(comm.data(), strnlen(comm.data(), comm.size())), cgroup};
}

std::optional<TaskRef> Correlator::owner_of(const Socket* s) {
  if (!s || s->owner_count == 0) return std::nullopt;
  return s->owners[s->owner_count - 1].task();
}

void Correlator::lru_unlink(Socket& s) {
  (s.lru_prev ? s.lru_prev->lru_next : lru_head_) = s.lru_next;
  (s.lru_next ? s.lru_next->lru_prev : lru_tail_) = s.lru_prev;
  s.lru_prev = s.lru_next = nullptr;
}

void Correlator::lru_push_back(Socket& s) {
  s.lru_prev = lru_tail_;
  s.lru_next = nullptr;
  (lru_tail_ ? lru_tail_->lru_next : lru_head_) = &s;
  lru_tail_ = &s;
}

void Correlator::erase_socket(Socket& s) {
  if (s.closed_ns) --closed_count_;
  lru_unlink(s);
  recycle_parts(s);
  sockets_.erase(s.cookie);  // the element is reset and kept for the next socket
}

void Correlator::recycle_parts(Socket& s) {
  if (s.close && free_closes_.size() < kMaxRecycled) free_closes_.push_back(std::move(s.close));
  if (s.calls && free_calls_.size() < kMaxRecycled) {
    s.calls->clear();
    free_calls_.push_back(std::move(s.calls));
  }
  s.close.reset();
  s.calls.reset();
}

void Correlator::set_close(Socket& s, const Event& ev) {
  if (!s.close && !free_closes_.empty()) {
    s.close = std::move(free_closes_.back());
    free_closes_.pop_back();
  }
  if (!s.close) s.close = std::make_unique<CloseInfo>();
  CloseInfo& c = *s.close;
  c.task = ev.task;  // assigned into the recycled strings' memory
  c.kind = close_kind(ev);
  c.exiting = ev.task_exiting;
  c.ts_ns = ev.ts_ns;
}

std::unique_ptr<std::vector<Correlator::CallTrack>> Correlator::new_calls() {
  if (free_calls_.empty()) return std::make_unique<std::vector<CallTrack>>();
  auto calls = std::move(free_calls_.back());
  free_calls_.pop_back();
  return calls;
}

void Correlator::evict_if_full() {
  while (sockets_.size() >= options_.max_sockets && lru_head_) {
    erase_socket(*lru_head_);
    ++stats_.sockets_evicted;
  }
}

// An event only a new socket (or a socket starting over) sends at a key. Listeners send no state
// changes (filtered in the kernel): their close() is the first event of theirs seen. Kprobe
// plans never see a child socket's birth either (it is set to SYN_RECV without tcp_set_state):
// its first event is SYN_RECV -> ESTABLISHED, new unless this entry is that child already.
bool Correlator::starts_lifecycle(const Event& ev, const Socket& s) {
  switch (ev.type) {
    case EventType::StateChange:
      if (ev.state == tcp::kSynSent && ev.old_state == tcp::kClose) return true;  // connect()
      if (ev.state == tcp::kSynRecv && ev.old_state == tcp::kListen) return true;  // a child's birth
      if (ev.state == tcp::kEstablished && ev.old_state == tcp::kSynRecv && s.state != 0 &&
          s.state != tcp::kSynRecv) {
        return true;  // an accepted child, where the key's last socket was seen elsewhere
      }
      // a live socket where one had closed (X -> CLOSE again is that socket: a received RST
      // closes it before its own state change arrives, if that is not left out)
      return s.closed_ns && ev.old_state != tcp::kClose && ev.state != tcp::kClose;
    case EventType::Close:
      // close() of a listener or a connection where the last socket had closed; a close() in
      // CLOSE is the usual end of that same socket (after an RST, say) and stays with it
      return s.closed_ns && ev.state != tcp::kClose;
    default:
      return false;
  }
}

// The key's previous lifecycle is over (freed and its address reused, or a connect() again
// after a failed one): its facts go with it. Pending resets that name it keep it, retired.
void Correlator::begin_lifecycle(Socket& s) {
  report_final_findings(s);
  if (s.closed_ns) --closed_count_;  // its closed_ entry no longer matches a current socket
  Socket fresh;
  fresh.cookie = s.cookie;
  fresh.gen = ++gen_seq_;
  fresh.lru_prev = s.lru_prev;  // the table element stays where it is in the LRU
  fresh.lru_next = s.lru_next;
  if (pending_by_gen_.contains(s.gen)) {
    Socket& old = retired_[s.gen];
    old = std::move(s);
    old.lru_prev = old.lru_next = nullptr;
  } else {
    recycle_parts(s);
  }
  s = std::move(fresh);
}

Correlator::Socket& Correlator::socket_for(const Event& ev) {
  Socket* found = sockets_.find(ev.cookie);
  if (!found) {
    evict_if_full();
    found = &sockets_.insert(ev.cookie);
    found->cookie = ev.cookie;
    found->gen = ++gen_seq_;
    lru_push_back(*found);
  } else {
    if (lru_tail_ != found) {
      lru_unlink(*found);
      lru_push_back(*found);
    }
    if (starts_lifecycle(ev, *found)) begin_lifecycle(*found);
  }
  Socket& s = *found;
  if (ev.local.family != 0) {
    s.local = ev.local;
    s.remote = ev.remote;
  }
  if (ev.netns != 0) s.netns = ev.netns;
  s.last_ns = std::max(s.last_ns, ev.ts_ns);
  return s;
}

void Correlator::learn_owner(Socket& s, const TaskRef& t) {
  if (s.owner_count == 0 || s.owners[s.owner_count - 1].pid != t.pid || s.owners[s.owner_count - 1].cgroup != t.cgroup) {
    out_.on_task(t, s.last_ns);
  }
  // most recent last; a task seen again moves to the end
  size_t n = 0;
  for (size_t i = 0; i < s.owner_count; ++i) {
    if (s.owners[i].pid != t.pid) s.owners[n++] = s.owners[i];
  }
  if (n == kOwnerSlots) {
    std::move(s.owners.begin() + 1, s.owners.end(), s.owners.begin());
    --n;
  }
  s.owners[n] = Owner::of(t);
  s.owner_count = static_cast<uint8_t>(n + 1);
}

void Correlator::on_event(const Event& ev) {
  ++stats_.events;
  switch (ev.type) {
    case EventType::ResetSent: on_reset_sent(ev); break;
    case EventType::ResetReceived:
      // the connect() the kernel put on this record instead of writing it (quiet path)
      if (ev.evidence.connect) on_state(connect_record(ev));
      on_reset_received(ev);
      break;
    case EventType::StateChange:
      // the owner's FIN the kernel put on this close record instead of writing it (quiet path)
      if (ev.fin.carried) on_state(fin_record(ev));
      on_state(ev);
      break;
    case EventType::SockCall: on_sock_call(ev); break;
    case EventType::Close: on_close(ev); break;
  }
}

// ---- RST pairing ------------------------------------------------------------

namespace {
// a listening socket's answer to a segment of no connection it has (see fold_stray_reset)
bool from_listener(const Event& e) { return e.has_socket && !e.active && e.state == tcp::kListen; }
// an RST the connection's own socket did not send: a listener's, or one for no socket at all
bool is_stray_reset(const Event& e) { return !e.has_socket || from_listener(e); }
}  // namespace

size_t Correlator::TupleKeyHash::operator()(const TupleKey& k) const noexcept {
  const EndpointHash h;
  return h(k.local) * 31 + h(k.remote);
}

Correlator::IndexEntries Correlator::index_entries(const Pending& p) {
  const ResetCase& c = p.c;
  IndexEntries e;
  if (c.received && p.received_gen) e.gens[0] = p.received_gen;
  if (c.sent && p.sent_gen && (!c.received || p.sent_gen != p.received_gen)) e.gens[1] = p.sent_gen;
  if (c.received && !c.sent) e.awaiting_sent = TupleKey{c.received->local, c.received->remote};
  if (c.sent && !c.received) e.awaiting_received = TupleKey{c.sent->local, c.sent->remote};
  return e;
}

// Only the entries that change are removed and added: the side that arrives (the usual update)
// keeps the other side's generation entry where it is. Removing and re-adding every entry was
// ~15% of trace's CPU in a reset storm (perf, issue #14). Lookups never depend on the order of
// entries under one key (ties go to the older case by seq).
template <class F>
void Correlator::update_pending(PendingIt it, F&& fn) {
  const IndexEntries before = index_entries(*it);
  fn(*it);
  const IndexEntries after = index_entries(*it);
  auto has = [](const IndexEntries& e, uint64_t gen) { return e.gens[0] == gen || e.gens[1] == gen; };
  for (const uint64_t gen : before.gens) {
    if (gen && !has(after, gen)) pending_by_gen_.remove(gen, it);
  }
  for (const uint64_t gen : after.gens) {
    if (gen && !has(before, gen)) pending_by_gen_.add(gen, it);
  }
  if (before.awaiting_sent != after.awaiting_sent) {
    if (before.awaiting_sent) awaiting_sent_.remove(*before.awaiting_sent, it);
    if (after.awaiting_sent) awaiting_sent_.add(*after.awaiting_sent, it);
  }
  if (before.awaiting_received != after.awaiting_received) {
    if (before.awaiting_received) awaiting_received_.remove(*before.awaiting_received, it);
    if (after.awaiting_received) awaiting_received_.add(*after.awaiting_received, it);
  }
}

void Correlator::index_pending(PendingIt it) {
  const IndexEntries e = index_entries(*it);
  for (const uint64_t gen : e.gens) {
    if (gen) pending_by_gen_.add(gen, it);
  }
  if (e.awaiting_sent) awaiting_sent_.add(*e.awaiting_sent, it);
  if (e.awaiting_received) awaiting_received_.add(*e.awaiting_received, it);
}

void Correlator::unindex_pending(PendingIt it) {
  const IndexEntries e = index_entries(*it);
  for (const uint64_t gen : e.gens) {
    if (gen) pending_by_gen_.remove(gen, it);
  }
  if (e.awaiting_sent) awaiting_sent_.remove(*e.awaiting_sent, it);
  if (e.awaiting_received) awaiting_received_.remove(*e.awaiting_received, it);
}

Correlator::PendingIt Correlator::erase_pending(PendingIt it) {
  unindex_pending(it);
  if (it->c.sent) sent_on_tuple_.remove(TupleKey{it->c.sent->local, it->c.sent->remote}, it);
  // a retired generation lives as long as a pending reset names it
  for (const uint64_t gen : {it->sent_gen, it->received_gen}) {
    if (gen && !pending_by_gen_.contains(gen)) retired_.erase(gen);
  }
  const PendingIt next = std::next(it);
  free_pending_.splice(free_pending_.end(), pending_, it);
  return next;
}

// The case still waiting for the other side of ev: mirrored tuple, within the pair window,
// the same network namespace preferred, then the closest in time, then the oldest.
Correlator::PendingIt Correlator::match_pending(const Event& ev, bool want_sent) {
  PendingIt best = pending_.end();
  uint64_t best_dt = 0;
  bool best_same_ns = false;
  (want_sent ? awaiting_sent_ : awaiting_received_).for_each(TupleKey{ev.remote, ev.local}, [&](PendingIt it) {
    const Pending& p = *it;
    const Event& other = want_sent ? *p.c.received : *p.c.sent;
    const uint64_t dt = abs_diff(other.ts_ns, ev.ts_ns);
    if (dt > options_.pair_window_ns) return;
    const bool same_ns = other.netns == ev.netns;
    const bool better = best == pending_.end() || (same_ns && !best_same_ns) ||
                        (same_ns == best_same_ns && (dt < best_dt || (dt == best_dt && p.seq < best->seq)));
    if (better) {
      best = it;
      best_dt = dt;
      best_same_ns = same_ns;
    }
  });
  return best;
}

Correlator::PendingIt Correlator::open_pending(ResetCase c, uint64_t ts) {
  if (pending_.size() >= options_.max_pending) {
    finish(pending_.front());
    erase_pending(pending_.begin());
    ++stats_.pending_dropped;
  }
  if (free_pending_.empty()) {
    pending_.push_back(Pending{std::move(c), ts + options_.settle_ns, pending_seq_++});
  } else {
    pending_.splice(pending_.end(), free_pending_, free_pending_.begin());
    pending_.back() = Pending{std::move(c), ts + options_.settle_ns, pending_seq_++};
  }
  const PendingIt it = std::prev(pending_.end());
  index_pending(it);
  return it;
}

void Correlator::on_reset_sent(const Event& ev) {
  uint8_t prev_state = 0;  // the sending socket's state before its last change
  uint64_t gen = 0;
  if (ev.cookie != 0) {
    Socket& s = socket_for(ev);
    gen = s.gen;
    // The close that announced this RST (__tcp_close with unread data), left out by the
    // kernel's quiet path: the record carries the state it closed from.
    if (ev.old_state != 0 && ev.state == tcp::kClose) {
      s.prev_state = ev.old_state;
      mark_closed(s, ev.ts_ns);
    }
    s.state = ev.state;
    prev_state = s.prev_state;
    // An active RST that tcp_done() follows (tcp_abort, the keepalive/FIN_WAIT2 timers, out
    // of memory), its close left out by the kernel's quiet path: closed from here, after it.
    if (ev.closes_after && ev.state != tcp::kClose) {
      s.prev_state = ev.state;
      s.state = tcp::kClose;
      mark_closed(s, ev.ts_ns);
    }
    if (task_owns_socket(ev)) {  // close() with unread data / SO_LINGER 0
      learn_owner(s, ev.task);
      set_close(s, ev);
    }
  }
  // Data for a socket whose receive side is shut: tcp_rcv_state_process calls
  // tcp_reset() on the closer's own socket (a receive event) just before the
  // RST goes out. That receive event was this very RST, not a second one.
  PendingIt self_abort = pending_.end();
  if (ev.has_socket && !ev.active && gen) {
    pending_by_gen_.for_each(gen, [&](PendingIt it) {
      const Pending& p = *it;
      if (p.c.received && !p.c.sent && p.received_gen == gen &&
          abs_diff(p.c.received->ts_ns, ev.ts_ns) <= options_.pair_window_ns &&
          (self_abort == pending_.end() || p.seq < self_abort->seq)) {
        self_abort = it;
      }
    });
  }
  PendingIt p = self_abort != pending_.end() ? self_abort : match_pending(ev, /*want_sent=*/true);
  if (p == pending_.end()) {
    ResetCase c;
    c.ts_ns = ev.ts_ns;
    p = open_pending(std::move(c), ev.ts_ns);
  }
  const bool is_self_abort = p == self_abort;
  update_pending(p, [&](Pending& pd) {
    ResetCase& c = pd.c;
    if (is_self_abort) {
      c.received.reset();
      pd.received_gen = 0;
      c.observed.clear();
      c.ts_ns = ev.ts_ns;
    }
    c.sent = ev;
    pd.sent_gen = ev.has_socket ? gen : 0;
    c.sender_prev_state = prev_state;
    c.ts_ns = std::min(c.ts_ns, ev.ts_ns);
  });
  sent_on_tuple_.add(TupleKey{ev.local, ev.remote}, p);
  fold_stray_reset(p);
}

// Once close() (unread data, SO_LINGER 0) or an abort unhashes a connection's socket, its
// peer's segments still in flight - a delayed ACK, more data - find the listener on that port,
// or no socket at all once the listener is closed, and each is answered with an RST of its own.
// On loopback that RST can even reach the peer before the socket's own (the unhash comes before
// the send in __tcp_close; seen with a closed listener in a 5.10 guest). One reset, told by the
// socket that caused it: the stray RST folds into it, handing over the receiver it reached.
void Correlator::fold_stray_reset(PendingIt p) {
  const Event& s = *p->c.sent;
  const bool stray = is_stray_reset(s);
  PendingIt other = pending_.end();
  sent_on_tuple_.for_each(TupleKey{s.local, s.remote}, [&](PendingIt it) {
    const Pending& q = *it;
    const Event& o = *q.c.sent;
    if (it == p || is_stray_reset(o) == stray || o.netns != s.netns) return;
    if (abs_diff(o.ts_ns, s.ts_ns) > options_.pair_window_ns) return;
    if (p->c.received && q.c.received) return;  // each reached a receiver: two resets
    if (other == pending_.end() || q.seq < other->seq) other = it;
  });
  if (other == pending_.end()) return;
  const PendingIt keep = stray ? other : p;
  const PendingIt drop = stray ? p : other;
  if (drop->c.received) {
    // keep takes the receiver before drop goes, so a retired generation it names stays alive
    update_pending(keep, [&](Pending& pd) {
      pd.c.received = drop->c.received;
      pd.received_gen = drop->received_gen;
      for (const Observation& o : drop->c.observed) {
        if (o.on_receiver) pd.c.observed.push_back(o);
      }
      pd.c.ts_ns = std::min(pd.c.ts_ns, drop->c.ts_ns);
    });
  }
  erase_pending(drop);
}

void Correlator::on_reset_received(const Event& ev) {
  Socket& s = socket_for(ev);
  // tcp_reset() always ends in tcp_done(): the socket is closed from here on. The kernel
  // leaves that state change out (its quiet path), so the close is taken from the RST.
  s.prev_state = ev.state;
  s.state = tcp::kClose;
  mark_closed(s, ev.ts_ns);
  // the set-up and FIN of a connection whose state changes the kernel left out (quiet path)
  if (!s.opened_ns) s.opened_ns = ev.evidence.opened_ns;
  if (!s.fin_received_ns) s.fin_received_ns = ev.evidence.fin_ns;
  const uint64_t gen = s.gen;
  // the same local abort seen after its RST: already accounted for
  if (pending_by_gen_.any_of(gen, [&](PendingIt it) {
        return it->c.sent && it->sent_gen == gen && !it->c.sent->active;
      })) {
    return;
  }
  // Loopback ordering: the RST is delivered inside the sender's transmit, so this
  // receive event comes BEFORE the sender's RESET_SENT and opens the case, and it
  // runs in the sender's task: current says nothing about the receiver's owner
  // (finish() takes the receiver from the socket's owners and observations).
  if (PendingIt p = match_pending(ev, /*want_sent=*/false); p != pending_.end()) {
    update_pending(p, [&](Pending& pd) {
      pd.c.received = ev;
      pd.received_gen = gen;
      pd.c.ts_ns = std::min(pd.c.ts_ns, ev.ts_ns);
    });
    return;
  }
  ResetCase c;
  c.ts_ns = ev.ts_ns;
  c.received = ev;
  update_pending(open_pending(std::move(c), ev.ts_ns), [&](Pending& pd) { pd.received_gen = gen; });
}

// ---- lifecycle ------------------------------------------------------------------

void Correlator::mark_closed(Socket& s, uint64_t ts_ns) {
  report_final_findings(s);
  if (s.closed_ns) return;
  s.closed_ns = ts_ns;
  ++closed_count_;
  closed_.push_back(Closed{ts_ns, &s, s.gen});
  if (closed_count_ > options_.max_closed) expire_closed(0);
}

void Correlator::on_state(const Event& ev) {
  Socket& s = socket_for(ev);  // a new connection at a known key starts a new generation there
  if (!s.opened_ns && (ev.state == tcp::kSynSent || (ev.state == tcp::kEstablished && ev.old_state == tcp::kSynRecv))) {
    s.opened_ns = ev.ts_ns;
  }
  s.prev_state = ev.old_state;
  s.state = ev.state;
  // connect() and close()/shutdown() change state in the caller's own context
  if (task_owns_socket(ev)) {
    learn_owner(s, ev.task);
    if (ev.state != tcp::kSynSent) {
      set_close(s, ev);
    }
  }
  if (ev.state == tcp::kCloseWait || ev.state == tcp::kClosing ||
      (ev.old_state == tcp::kFinWait2 && ev.state == tcp::kClose && ev.fin_received)) {
    if (!s.fin_received_ns) s.fin_received_ns = ev.ts_ns;
  }
  if (ev.state == tcp::kClose) mark_closed(s, ev.ts_ns);
  if (options_.lifecycle) {
    std::optional<TaskRef> owner;
    if (s.owner_count) owner = s.owners[s.owner_count - 1].task();
    out_.on_lifecycle(LifecycleEvent{ev, owner});
  }
}

void Correlator::on_close(const Event& ev) {
  Socket& s = socket_for(ev);
  learn_owner(s, ev.task);
  set_close(s, ev);
}

void Correlator::on_sock_call(const Event& ev) {
  Socket& s = socket_for(ev);
  learn_owner(s, ev.task);
  track_call(s, ev);
  if (ev.phase == Phase::Data) return;

  const ObservedCall call = ev.call == Call::Recv ? ObservedCall::Recv : ObservedCall::Send;
  const int err = ev.phase == Phase::Eof ? 0 : -ev.ret;
  pending_by_gen_.for_each(s.gen, [&](PendingIt pit) {
    Pending& p = *pit;
    const bool on_receiver = p.c.received && p.received_gen == s.gen;
    const bool on_sender = p.c.sent && p.sent_gen == s.gen;
    if (!on_receiver && !on_sender) return;
    auto it = std::find_if(p.c.observed.begin(), p.c.observed.end(), [&](const Observation& o) {
      return o.task.pid == ev.task.pid && o.call == call && o.err == err;
    });
    if (it == p.c.observed.end()) {
      Observation o{ev.task, call, err, ev.count, ev.ts_ns, ev.ts_ns, false};
      o.on_receiver = on_receiver;
      p.c.observed.push_back(o);
    } else {
      it->count = std::max(it->count, ev.count);
      it->last_ns = ev.ts_ns;
    }
    // both ends known and the application has seen the error: nothing more to wait for
    // (not a stray RST: the socket's own, which it folds into, may still be on its way)
    if (on_receiver && p.c.sent && !is_stray_reset(*p.c.sent) && ev.phase == Phase::Error) p.deadline_ns = 0;
  });
}

// ---- reporting ----------------------------------------------------------------

void Correlator::finish(Pending& p) {
  ResetCase& c = p.c;
  if (c.sent) {
    const Event& s = *c.sent;
    if (reset_sent_in_task_context(s)) c.actor = s.task;
    if (s.cookie != 0) {
      const Socket* sock = find_socket(s.cookie, p.sent_gen);
      c.sender = owner_of(sock);
      if (sock) {
        if (sock->close) c.closer = *sock->close;
        c.sender_had_peer_fin = (sock->fin_received_ns && sock->fin_received_ns <= s.ts_ns) ||
                                s.fin_received;
        c.sender_had_closed = sock->close && sock->close->ts_ns <= s.ts_ns;
      }
    }
  }
  if (c.received) {
    c.local = c.received->local;
    c.remote = c.received->remote;
    c.netns = c.received->netns;
    const Socket* sock = find_socket(c.received->cookie, p.received_gen);
    c.receiver = owner_of(sock);
    if (sock) {
      if (sock->fin_received_ns && sock->fin_received_ns <= c.received->ts_ns) c.receiver_fin_ns = sock->fin_received_ns;
      c.receiver_opened_ns = sock->opened_ns;
    }
    // prefer the task that actually got the error
    for (const Observation& o : c.observed) {
      if (!o.derived && o.on_receiver) {
        c.receiver = o.task;
        break;
      }
    }
    if (c.received->state == tcp::kSynSent && c.receiver) {
      c.observed.insert(c.observed.begin(),
                        Observation{*c.receiver, ObservedCall::Connect, ECONNREFUSED, 1, c.received->ts_ns,
                                    c.received->ts_ns, true});
    }
  } else if (c.sent) {
    c.local = c.sent->remote;
    c.remote = c.sent->local;
    c.netns = c.sent->netns;
  }
  ++stats_.resets;
  out_.on_reset(c);
}

void Correlator::tick(uint64_t now_ns) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->deadline_ns <= now_ns) {
      finish(*it);
      it = erase_pending(it);
    } else {
      ++it;
    }
  }
  expire_closed(now_ns);
}

// Oldest closed sockets first: those closed more than closed_grace_ns before now_ns, then any
// beyond max_closed (now_ns 0: only the count). A socket a pending reset refers to stays until
// the reset is reported (re-queued; pending resets are bounded by max_pending).
void Correlator::expire_closed(uint64_t now_ns) {
  for (size_t budget = closed_.size(); budget > 0 && !closed_.empty(); --budget) {
    const Closed closed = closed_.front();
    const bool too_old = now_ns && closed.closed_ns + options_.closed_grace_ns < now_ns;
    if (!too_old && closed_count_ <= options_.max_closed) break;
    closed_.pop_front();
    Socket* s = closed.socket;
    if (s->gen != closed.gen) continue;  // gone (reset: gen 0), reused or a new lifecycle
    if (!too_old && pending_by_gen_.contains(closed.gen)) {
      closed_.push_back(closed);
      continue;
    }
    if (!too_old) ++stats_.closed_evicted;
    erase_socket(*s);
  }
}

void Correlator::flush() {
  for (Pending& p : pending_) finish(p);
  pending_.clear();
  free_pending_.clear();
  pending_by_gen_.clear();
  retired_.clear();
  awaiting_sent_.clear();
  awaiting_received_.clear();
  sent_on_tuple_.clear();
  for (Socket* s = lru_head_; s; s = s->lru_next) report_final_findings(*s);  // least recent first
}

// ---- application findings -------------------------------------------------------

// The kernel reports a (socket, task, direction) when its result phase changes
// and when a run after the end crosses loop_threshold, 2x, 4x, ... calls. A
// task that goes on calling after recv() returned 0, or after ECONNRESET/EPIPE,
// ignores the result: report it once at the threshold, and once more when the
// socket ends if the loop went on. recv() == 0 ignored is recv_loop_after_end;
// an error that ended the connection ignored is ignored_reset - a reset, or what
// the kernel's own reset of it returns (ETIMEDOUT, EHOSTUNREACH...), named in
// `after`. send() never has an EOF phase (the kernel reports send() == 0 as data),
// so every send() finding is ignored_reset.
void Correlator::track_call(Socket& s, const Event& ev) {
  if (ev.phase == Phase::Data) return;  // EAGAIN/EINTR and data are not an end
  if (ev.phase == Phase::Error && !connection_ended(-ev.ret)) return;  // a bad call, not an end
  if (!s.calls) s.calls = new_calls();
  std::vector<CallTrack>& calls = *s.calls;
  auto it = std::find_if(calls.begin(), calls.end(), [&](const CallTrack& t) {
    return t.pid == ev.task.pid && t.call == ev.call;
  });
  const int result = end_code(ev.phase, ev.ret);
  if (it == calls.end()) {
    if (calls.size() >= kMaxCallTracks) return;  // bounded; findings are per owner
    CallTrack& t = calls.emplace_back();
    t.pid = ev.task.pid;
    t.call = ev.call;
    t.end = result;
    t.end_ns = ev.ts_ns;
    t.after_error = ev.phase == Phase::Error;
    it = calls.end() - 1;
    // the first return of the end is the program learning of it; only later calls ignore it
    if (ev.count <= 1) return;
  }
  CallTrack& t = *it;
  // calls since the end: the first end call itself is not counted
  uint64_t after = ev.count;
  if (result == t.end) after = ev.count > 0 ? ev.count - 1 : 0;
  if (result != t.end && t.after_error) after = ev.count;  // e.g. recv() == 0 after ECONNRESET
  if (!t.finding) {
    const bool reset_ignored = t.after_error && after >= 1 && ev.count >= options_.loop_threshold;
    const bool loop = after + 1 >= options_.loop_threshold;
    if (!reset_ignored && !loop) return;
    t.finding = std::make_unique<Finding>();
    Finding& f = *t.finding;
    f.kind = t.after_error ? "ignored_reset" : "recv_loop_after_end";
    f.task = ev.task;
    f.netns = s.netns;
    f.local = s.local;
    f.remote = s.remote;
    f.call = call_name(ev.call);
    f.after = end_name(t.end);
    f.first_ns = t.end_ns;
  }
  t.finding->count = std::max(t.finding->count, after);
  t.finding->last_ns = ev.ts_ns;
  t.finding->result = end_name(result);
  if (t.reported_count == 0) {
    t.reported_count = t.finding->count;
    ++stats_.findings;
    out_.on_finding(*t.finding);
  }
}

void Correlator::report_final_findings(Socket& s) {
  if (!s.calls) return;
  for (CallTrack& t : *s.calls) {
    if (!t.finding || t.finding->final) continue;
    t.finding->final = true;
    // the first report said it all unless the loop went on much longer
    if (t.finding->count >= 2 * t.reported_count) out_.on_finding(*t.finding);
  }
}

}  // namespace connreset
