#pragma once
// Synthetic kernel record streams for the user-space benchmarks: what the
// probes emit, per connection, for the loadgen workloads (see loadgen.cpp).
// Records are built as typed Events and encoded with Decoder::encode, so the
// benchmarks start from the same raw bytes the ring buffer delivers.
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "decode/decoder.h"
#include "decode/event.h"

namespace connreset::bench {

using Record = std::array<std::byte, Decoder::kRecordSize>;

struct StreamBuilder {
  std::vector<Record> records;
  std::vector<uint64_t> ts;  // timestamp of each record (for tick())
  uint64_t now_ns = 1'000'000'000;
  uint64_t step_ns = 1'000;  // spacing between consecutive records
  uint64_t next_cookie = 1;
  uint32_t netns = 4026531840;
  TaskRef server{1000, 1000, "server", 100};
  TaskRef client{2000, 2000, "client", 100};

  struct Conn {
    uint64_t client_cookie, server_cookie;
    Endpoint client_ep, server_ep;
  };

  Conn new_conn(uint32_t index, uint16_t server_port = 8080) {
    const auto cport = static_cast<uint16_t>(32768 + index % 28000);
    const uint32_t caddr = 0x7f000001 + (index / 28000) % 200;  // 127.0.0.x: unique 4-tuples
    Conn c{next_cookie, next_cookie + 1, Endpoint::ipv4(caddr, cport),
           Endpoint::ipv4(0x7f000001, server_port)};
    next_cookie += 2;
    return c;
  }

  Event base(EventType type, uint64_t cookie, const Endpoint& local, const Endpoint& remote,
             const TaskRef& task) {
    Event e;
    e.type = type;
    e.ts_ns = now_ns;
    e.cookie = cookie;
    e.netns = netns;
    e.local = local;
    e.remote = remote;
    e.task = task;
    e.has_socket = true;
    return e;
  }

  void push(const Event& e) {
    Record r{};
    Decoder::encode(e, std::span<std::byte, Decoder::kRecordSize>(r));
    records.push_back(r);
    ts.push_back(now_ns);
    now_ns += step_ns;
  }

  void state(const Conn& c, bool client_side, uint8_t from, uint8_t to, uint8_t shutdown = 0) {
    Event e = client_side ? base(EventType::StateChange, c.client_cookie, c.client_ep, c.server_ep, client)
                          : base(EventType::StateChange, c.server_cookie, c.server_ep, c.client_ep, server);
    e.old_state = from;
    e.state = to;
    e.shutdown = shutdown;
    push(e);
  }

  void call(const Conn& c, bool client_side, Call which, Phase phase, int32_t ret, uint64_t count = 1) {
    Event e = client_side ? base(EventType::SockCall, c.client_cookie, c.client_ep, c.server_ep, client)
                          : base(EventType::SockCall, c.server_cookie, c.server_ep, c.client_ep, server);
    e.state = tcp::kEstablished;
    e.call = which;
    e.phase = phase;
    e.ret = ret;
    e.count = count;
    e.bytes = ret > 0 ? static_cast<uint64_t>(ret) : 0;
    push(e);
  }

  // connect + accept + one exchange: what an open connection costs to learn
  void open(const Conn& c) {
    state(c, true, tcp::kClose, tcp::kSynSent);
    state(c, true, tcp::kSynSent, tcp::kEstablished);
    state(c, false, tcp::kSynRecv, tcp::kEstablished);
    call(c, true, Call::Send, Phase::Data, 16);
    call(c, false, Call::Recv, Phase::Data, 16);
    call(c, false, Call::Send, Phase::Data, 16);
    call(c, true, Call::Recv, Phase::Data, 16);
  }

  // the server's end only (the client is another host)
  void open_server_side(const Conn& c) {
    state(c, false, tcp::kSynRecv, tcp::kEstablished);
    call(c, false, Call::Recv, Phase::Data, 16);
    call(c, false, Call::Send, Phase::Data, 16);
  }

  // loadgen churn: open, client close() (FIN), server reads EOF and closes
  void clean_close(const Conn& c) {
    state(c, true, tcp::kEstablished, tcp::kFinWait1, tcp::kShutdownBoth);
    state(c, false, tcp::kEstablished, tcp::kCloseWait);
    state(c, true, tcp::kFinWait1, tcp::kFinWait2, tcp::kShutdownBoth);
    call(c, false, Call::Recv, Phase::Eof, 0);
    state(c, false, tcp::kCloseWait, tcp::kLastAck, tcp::kShutdownBoth);
    state(c, true, tcp::kFinWait2, tcp::kClose, tcp::kShutdownBoth);
    state(c, false, tcp::kLastAck, tcp::kClose, tcp::kShutdownBoth);
  }

  // loadgen storm: the server close()s with unread data; the client's recv() gets ECONNRESET.
  // On loopback the receiver's event comes first, in the sender's task.
  void reset_on_close(const Conn& c, uint32_t unread = 64) {
    state(c, true, tcp::kClose, tcp::kSynSent);
    state(c, true, tcp::kSynSent, tcp::kEstablished);
    state(c, false, tcp::kSynRecv, tcp::kEstablished);
    call(c, true, Call::Send, Phase::Data, static_cast<int32_t>(unread));
    Event rcv = base(EventType::ResetReceived, c.client_cookie, c.client_ep, c.server_ep, server);
    rcv.state = tcp::kEstablished;
    push(rcv);
    state(c, true, tcp::kEstablished, tcp::kClose);
    Event snt = base(EventType::ResetSent, c.server_cookie, c.server_ep, c.client_ep, server);
    snt.reason = RstReason::TcpAbortOnClose;
    snt.active = true;
    snt.state = tcp::kClose;
    snt.shutdown = tcp::kShutdownBoth;
    snt.unread = unread;
    push(snt);
    state(c, false, tcp::kEstablished, tcp::kClose, tcp::kShutdownBoth);
    call(c, true, Call::Recv, Phase::Error, -ECONNRESET);
  }
};

}  // namespace connreset::bench
