#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <deque>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "correlate/flat_multi_index.h"
#include "correlate/reset_case.h"
#include "correlate/stable_table.h"
#include "correlate/task_context.h"
#include "decode/event.h"

namespace connreset {

struct CorrelatorOptions {
  uint64_t settle_ns = 500'000'000;      // wait this long for the other end / the app's recv()
  uint64_t pair_window_ns = 2'000'000'000;  // an RST's send and receipt are at most this far apart
  // Closed sockets are kept to name the closed end of later RSTs (a TIME_WAIT socket answering,
  // late events): this long at most (--closed-keep-ms) and this many at most (--max-closed), the
  // oldest going first. In a reset storm they are most of the table: the count bounds the memory.
  uint64_t closed_grace_ns = 10'000'000'000;
  size_t max_closed = 65'536;
  size_t max_sockets = 200'000;
  size_t max_pending = 10'000;
  bool lifecycle = false;  // report every state change (trace --all)
  // calls after recv() returned 0 / an error before a finding is reported (also the
  // kernel's first report threshold: --loop-threshold)
  uint64_t loop_threshold = kDefaultLoopThreshold;
};

struct CorrelatorStats {
  uint64_t events = 0;
  uint64_t resets = 0;
  uint64_t sockets_evicted = 0;  // dropped by the size bound (not normal expiry)
  uint64_t closed_evicted = 0;   // closed sockets dropped by --max-closed before --closed-keep-ms
  uint64_t pending_dropped = 0;
  uint64_t findings = 0;
  size_t sockets_tracked = 0;
};

class CorrelatorOutput {
 public:
  virtual ~CorrelatorOutput() = default;
  virtual void on_reset(const ResetCase& reset) = 0;
  virtual void on_lifecycle(const LifecycleEvent&) {}
  virtual void on_finding(const Finding&) {}
  // A task newly seen owning a socket, in process context (for enrichment
  // while the task is still alive). Not called again while it stays the owner.
  virtual void on_task(const TaskRef&, uint64_t /*ts_ns*/) {}
};

// Per-socket timelines and RST pairing. Fed events in ring-buffer order,
// which is not causal order (on loopback the receiver's RST event comes
// before the sender's): a reset is held for settle_ns, then reported with
// both ends.
class Correlator {
 public:
  Correlator(CorrelatorOptions options, CorrelatorOutput& out);

  void on_event(const Event& ev);
  void tick(uint64_t now_ns);  // report cases whose settle time has passed; expire sockets
  void flush();                // report everything pending (end of input)
  CorrelatorStats stats() const;

 private:
  // What one task's calls in one direction last returned, for findings. Every socket whose
  // recv() saw the end keeps one (a reset storm's closed client sockets: tens of thousands),
  // so the rare finding is behind a pointer and the end is its errno, not its name: 40 bytes
  // instead of ~370 (issue #14: peak RSS and the page faults of a storm's first seconds).
  struct CallTrack {
    uint32_t pid = 0;
    Call call = Call::Recv;
    bool after_error = false;   // the end was an error that ended the connection, not recv() == 0
    int end = 0;                // first end returned: 0 for EOF, else the errno (ECONNRESET, ...)
    uint64_t end_ns = 0;
    uint64_t reported_count = 0;
    std::unique_ptr<Finding> finding;
  };
  // A task as kept per socket: fixed size, no heap (100k+ sockets are tracked).
  struct Owner {
    uint32_t pid = 0;
    uint32_t tid = 0;
    uint64_t cgroup = 0;
    std::array<char, 16> comm{};
    static Owner of(const TaskRef& t);
    TaskRef task() const;
  };
  static constexpr size_t kOwnerSlots = 2;  // the two most recent owners (fork, fd passing)

  // One lifecycle of one socket (connect/accept .. close). Kept small: everything that only
  // some sockets need is behind a pointer.
  struct Socket {
    uint64_t cookie = 0;
    // Which lifecycle of this key (unique across the table). Kprobe plans key sockets by their
    // kernel address, which the allocator hands to the next socket once this one is freed: a
    // new connect/accept at a known key starts a new generation (begin_lifecycle), and pending
    // resets refer to the generation they saw, so neither side's facts reach the other.
    uint64_t gen = 0;
    uint32_t netns = 0;
    uint8_t state = 0;
    uint8_t prev_state = 0;
    uint8_t owner_count = 0;
    Endpoint local, remote;
    std::array<Owner, kOwnerSlots> owners{};  // seen in process context, most recent last
    std::unique_ptr<CloseInfo> close;
    std::unique_ptr<std::vector<CallTrack>> calls;  // only sockets with an EOF/error
    uint64_t fin_received_ns = 0;
    uint64_t opened_ns = 0;  // connect() or accept()ed handshake done: the connection's age
    uint64_t last_ns = 0;
    uint64_t closed_ns = 0;
    Socket* lru_prev = nullptr;  // intrusive LRU: table elements do not move
    Socket* lru_next = nullptr;
  };
  struct Pending {
    ResetCase c;
    uint64_t deadline_ns = 0;
    uint64_t seq = 0;  // arrival order: ties go to the older case
    // the socket generations of c.sent / c.received (0: that side is not known, or no socket)
    uint64_t sent_gen = 0;
    uint64_t received_gen = 0;
  };
  using PendingIt = std::list<Pending>::iterator;
  // (local, remote) of the one side a pending case has, to find the mirrored other side
  struct TupleKey {
    Endpoint local, remote;
    bool operator==(const TupleKey&) const = default;
  };
  struct TupleKeyHash {
    size_t operator()(const TupleKey& k) const noexcept;
  };

  Socket& socket_for(const Event& ev);
  // the socket of that generation, current or retired; nullptr when gone
  const Socket* find_socket(uint64_t cookie, uint64_t gen) const;
  static bool starts_lifecycle(const Event& ev, const Socket& s);
  void begin_lifecycle(Socket& s);
  void learn_owner(Socket& s, const TaskRef& t);
  void on_reset_sent(const Event& ev);
  void on_reset_received(const Event& ev);
  void on_state(const Event& ev);
  void on_close(const Event& ev);
  void mark_closed(Socket& s, uint64_t ts_ns);  // closed_ns, the closed table, final findings
  void on_sock_call(const Event& ev);
  PendingIt match_pending(const Event& ev, bool want_sent);
  void fold_stray_reset(PendingIt p);
  PendingIt open_pending(ResetCase c, uint64_t ts);
  PendingIt erase_pending(PendingIt it);
  // The only way to change a pending case's sides (sent/received): applies fn(Pending&) and
  // moves the case's index entries to what its new sides call for, so the indexes cannot go stale.
  template <class F>
  void update_pending(PendingIt it, F&& fn);
  // The index entries a case's sides call for, in one place so that adding and removing them
  // cannot disagree.
  struct IndexEntries {
    std::array<uint64_t, 2> gens{};  // in pending_by_gen_ (0: none)
    std::optional<TupleKey> awaiting_sent;      // received only
    std::optional<TupleKey> awaiting_received;  // sent only
  };
  static IndexEntries index_entries(const Pending& p);
  void index_pending(PendingIt it);
  void unindex_pending(PendingIt it);
  void finish(Pending& p);
  void track_call(Socket& s, const Event& ev);
  void report_final_findings(Socket& s);
  static std::optional<TaskRef> owner_of(const Socket* s);
  void evict_if_full();
  void expire_closed(uint64_t now_ns);

  using SocketMap = StableTable<Socket>;  // by cookie
  using GenIndex = FlatMultiIndex<uint64_t, PendingIt, std::hash<uint64_t>>;
  using TupleIndex = FlatMultiIndex<TupleKey, PendingIt, TupleKeyHash>;

  CorrelatorOptions options_;
  CorrelatorOutput& out_;
  void lru_unlink(Socket& s);
  void lru_push_back(Socket& s);
  void erase_socket(Socket& s);
  // Storage that went away, kept for the next of its kind (see kMaxRecycled).
  void recycle_parts(Socket& s);  // its close record and call tracks
  void set_close(Socket& s, const Event& ev);
  std::unique_ptr<std::vector<CallTrack>> new_calls();

  SocketMap sockets_;
  Socket* lru_head_ = nullptr;  // least recently touched
  Socket* lru_tail_ = nullptr;
  std::list<Pending> pending_;  // in arrival order
  // Nodes of reported cases, reused by the next ones (spliced, not freed): a case is ~1 KiB and
  // its allocation per reset showed in a storm's profile. At most max_pending of them.
  std::list<Pending> free_pending_;
  // Pending cases by what events look them up by. Every case of the last settle window is
  // pending, so at thousands of resets per second a scan per event was quadratic.
  GenIndex pending_by_gen_;       // either side's socket generation
  TupleIndex awaiting_sent_;      // received only
  TupleIndex awaiting_received_;  // sent only
  // Every case with a sent side, by its (local, remote). A case gets its sent side once and
  // keeps it, so this entry is added there and removed with the case, not at every update.
  TupleIndex sent_on_tuple_;
  uint64_t pending_seq_ = 0;
  // Earlier generations of a reused key that pending resets still refer to, by generation.
  // At most two per pending case (its two sides): bounded by max_pending.
  std::unordered_map<uint64_t, Socket> retired_;
  uint64_t gen_seq_ = 0;
  // A closed socket by its table element, not its cookie: no index lookup to expire it. The
  // element may have been erased or reused since; gens are unique, so gen still matching says
  // it is the same socket (the table never frees an element's storage).
  struct Closed {
    uint64_t closed_ns;
    Socket* socket;
    uint64_t gen;
  };
  std::deque<Closed> closed_;  // oldest first
  size_t closed_count_ = 0;  // sockets in sockets_ with closed_ns set
  CorrelatorStats stats_;
  // In a reset storm every connection inserts and erases two sockets, a close record, call
  // tracks (and, before the flat indexes, a few index entries): malloc and free of them were ~12% of trace's CPU
  // (perf, issue #14; glibc's per-thread cache overflows when a tick expires thousands at
  // once). What goes away is kept here for the next one, at most kMaxRecycled of each kind.
  static constexpr size_t kMaxRecycled = 4096;
  std::vector<std::unique_ptr<CloseInfo>> free_closes_;
  std::vector<std::unique_ptr<std::vector<CallTrack>>> free_calls_;  // cleared
};

}  // namespace connreset
