#include "decode/decoder.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "common/names.h"
#include "correlate/task_context.h"
#include "connreset.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

TEST(Decoder, RoundTripKeepsEveryField) {
  Event e = abort_on_close(123456789, Conn{42, ep(80), ep(40000)}, task(77, "srv"), 4096);
  e.linger_on = true;
  e.linger_ms = 2000;
  e.task_exiting = true;
  e.fin_received = true;
  std::array<std::byte, Decoder::kRecordSize> raw{};
  Decoder::encode(e, raw);
  DecodeError err;
  const auto back = Decoder().decode(raw, &err);
  ASSERT_TRUE(back) << err.message;
  EXPECT_EQ(back->type, EventType::ResetSent);
  EXPECT_EQ(back->ts_ns, 123456789u);
  EXPECT_EQ(back->cookie, 42u);
  EXPECT_EQ(back->local, ep(80));
  EXPECT_EQ(back->remote, ep(40000));
  EXPECT_EQ(back->task, e.task);
  EXPECT_EQ(back->reason, RstReason::TcpAbortOnClose);
  EXPECT_EQ(back->unread, 4096u);
  EXPECT_TRUE(back->active && back->linger_on && back->task_exiting && back->fin_received);
  EXPECT_EQ(back->linger_ms, 2000u);
  EXPECT_EQ(back->shutdown, tcp::kShutdownBoth);
}

// A record with every field set to a distinct value: decode must read each one
// from the right place, and encode must give back the very same bytes.
cr_event every_field_record() {
  cr_event r{};
  r.ts_ns = 0x0102030405060708ull;
  r.cookie = 0x1112131415161718ull;
  r.cgroup = 0x2122232425262728ull;
  r.count = 0x3132333435363738ull;
  r.bytes = 0x4142434445464748ull;
  r.netns = 0x51525354u;
  r.pid = 0x61626364u;
  r.tid = 0x71727374u;
  r.unread = 0x81828384u;
  r.linger_ms = 0x91929394u;
  r.ret = -104;  // -ECONNRESET
  r.lport = 0xa1a2;
  r.rport = 0xb1b2;
  r.type = CR_EV_SOCK_CALL;
  r.family = 10;
  r.state = CR_TCP_FIN_WAIT2;
  r.old_state = CR_TCP_FIN_WAIT1;
  r.reason = CR_RST_TCP_DISCONNECT_WITH_DATA;
  r.flags = CR_F_ACTIVE | CR_F_LINGER | CR_F_EXITING | CR_F_ORPHAN | CR_F_FIN_RCVD | CR_F_HAS_SK | CR_F_TW;
  r.shutdown = 3;
  r.seg_flags = CR_TCP_FIN | CR_TCP_ACK;
  r.call = CR_CALL_SEND;
  r.phase = CR_PHASE_ERROR;
  r.probes_out = 0xc1;
  r.keepalive = 1;
  for (int i = 0; i < 16; ++i) {
    r.laddr[i] = static_cast<unsigned char>(0xd0 + i);
    r.raddr[i] = static_cast<unsigned char>(0xe0 + i);
  }
  std::memcpy(r.comm, "0123456789abcde", 16);
  r.rst_flags = CR_TCP_RST | CR_TCP_ACK;
  r.evidence = CR_EVD_SOCK | CR_EVD_TIMES | CR_EVD_SEG | CR_EVD_NOT_RST;
  r.since_send_ms = 0xf1f2f3f4u;
  r.since_recv_ms = 0x0a0b0c0du;
  r.since_ack_ms = 0x1a1b1c1du;
  r.unacked = 0x2a2b2c2du;
  r.srtt_us = 0x3a3b3c3du;
  r.retrans = 0x4a4b4c4du;
  r.rst_acked = 0x5a5b5c5du;
  r.bytes_acked = 0x6162636465666768ull;
  r.bytes_received = 0x7172737475767778ull;
  return r;
}

TEST(Decoder, ByteExactRoundTripOverEveryField) {
  const cr_event r = every_field_record();
  const auto raw = std::as_bytes(std::span(&r, 1));
  DecodeError err;
  const auto ev = Decoder().decode(raw, &err);
  ASSERT_TRUE(ev) << err.message;
  EXPECT_EQ(ev->ts_ns, 0x0102030405060708ull);
  EXPECT_EQ(ev->cookie, 0x1112131415161718ull);
  EXPECT_EQ(ev->task.cgroup, 0x2122232425262728ull);
  EXPECT_EQ(ev->count, 0x3132333435363738ull);
  EXPECT_EQ(ev->bytes, 0x4142434445464748ull);
  EXPECT_EQ(ev->netns, 0x51525354u);
  EXPECT_EQ(ev->task.pid, 0x61626364u);
  EXPECT_EQ(ev->task.tid, 0x71727374u);
  EXPECT_EQ(ev->unread, 0x81828384u);
  EXPECT_EQ(ev->linger_ms, 0x91929394u);
  EXPECT_EQ(ev->ret, -104);
  EXPECT_EQ(ev->local.port, 0xa1a2);
  EXPECT_EQ(ev->remote.port, 0xb1b2);
  EXPECT_EQ(ev->type, EventType::SockCall);
  EXPECT_EQ(ev->local.family, 10);
  EXPECT_EQ(ev->remote.family, 10);
  EXPECT_EQ(ev->state, tcp::kFinWait2);
  EXPECT_EQ(ev->old_state, tcp::kFinWait1);
  EXPECT_EQ(ev->reason, RstReason::TcpDisconnectWithData);
  EXPECT_TRUE(ev->active && ev->linger_on && ev->task_exiting && ev->orphan && ev->fin_received &&
              ev->has_socket && ev->timewait);
  EXPECT_EQ(ev->shutdown, tcp::kShutdownBoth);
  EXPECT_EQ(ev->seg_flags, tcp::kSegFin | tcp::kSegAck);
  EXPECT_EQ(ev->call, Call::Send);
  EXPECT_EQ(ev->phase, Phase::Error);
  EXPECT_EQ(ev->probes_out, 0xc1);
  EXPECT_TRUE(ev->keepalive);
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(ev->local.addr[i], 0xd0 + i);
    EXPECT_EQ(ev->remote.addr[i], 0xe0 + i);
  }
  EXPECT_EQ(ev->task.comm, "0123456789abcde");
  const RstEvidence& d = ev->evidence;
  EXPECT_EQ(d.rst_flags, tcp::kSegRst | tcp::kSegAck);
  EXPECT_TRUE(d.socket && d.times && d.segment && d.not_rst);
  EXPECT_EQ(d.since_send_ms, 0xf1f2f3f4u);
  EXPECT_EQ(d.since_recv_ms, 0x0a0b0c0du);
  EXPECT_EQ(d.since_ack_ms, 0x1a1b1c1du);
  EXPECT_EQ(d.unacked, 0x2a2b2c2du);
  EXPECT_EQ(d.srtt_us, 0x3a3b3c3du);
  EXPECT_EQ(d.retrans, 0x4a4b4c4du);
  EXPECT_EQ(d.rst_acked, 0x5a5b5c5du);
  EXPECT_EQ(d.bytes_acked, 0x6162636465666768ull);
  EXPECT_EQ(d.bytes_received, 0x7172737475767778ull);

  std::array<std::byte, Decoder::kRecordSize> back{};
  Decoder::encode(*ev, back);
  EXPECT_EQ(std::memcmp(back.data(), raw.data(), raw.size()), 0);
  for (size_t i = 0; i < raw.size(); ++i) EXPECT_EQ(back[i], raw[i]) << "byte " << i;
}

// count and bytes are a SOCK_CALL's; on a RESET_RECEIVED the same bytes are the set-up and FIN
// times the kernel's quiet path kept in the socket's storage. Each type reads its own meaning
// and encodes it back to the same bytes.
TEST(Decoder, CountAndBytesOfAResetReceivedAreItsSetUpAndFinTimes) {
  cr_event r = every_field_record();
  r.type = CR_EV_RESET_RECEIVED;
  const auto raw = std::as_bytes(std::span(&r, 1));
  DecodeError err;
  const auto ev = Decoder().decode(raw, &err);
  ASSERT_TRUE(ev) << err.message;
  EXPECT_EQ(ev->evidence.opened_ns, 0x3132333435363738ull);
  EXPECT_EQ(ev->evidence.fin_ns, 0x4142434445464748ull);
  EXPECT_EQ(ev->count, 0u);
  EXPECT_EQ(ev->bytes, 0u);
  std::array<std::byte, Decoder::kRecordSize> back{};
  Decoder::encode(*ev, back);
  EXPECT_EQ(std::memcmp(back.data(), raw.data(), raw.size()), 0);

  r.type = CR_EV_RESET_SENT;  // the other types keep count/bytes as they were
  const auto sent = Decoder().decode(std::as_bytes(std::span(&r, 1)), &err);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->count, 0x3132333435363738ull);
  EXPECT_EQ(sent->evidence.opened_ns, 0u);
}

// CR_EVD_CONNECT: a RESET_RECEIVED carrying the kept connect() (its task fields are the
// connecting task's). Only that type reads the bit; each type encodes back the same bytes.
TEST(Decoder, ConnectEvidenceBitIsReadOnAReceivedResetOnly) {
  for (const bool set : {true, false}) {
    for (const auto type : {CR_EV_RESET_RECEIVED, CR_EV_RESET_SENT}) {
      cr_event r = every_field_record();
      r.type = type;
      r.evidence = static_cast<decltype(r.evidence)>(set ? (r.evidence | CR_EVD_CONNECT) : (r.evidence & ~CR_EVD_CONNECT));
      const auto raw = std::as_bytes(std::span(&r, 1));
      DecodeError err;
      const auto ev = Decoder().decode(raw, &err);
      ASSERT_TRUE(ev) << err.message;
      EXPECT_EQ(ev->evidence.connect, set && type == CR_EV_RESET_RECEIVED) << "type " << int(type) << " bit " << set;
      if (type != CR_EV_RESET_RECEIVED) continue;  // the bit of other types is not read back
      std::array<std::byte, Decoder::kRecordSize> back{};
      Decoder::encode(*ev, back);
      EXPECT_EQ(std::memcmp(back.data(), raw.data(), raw.size()), 0) << "bit " << set;
    }
  }
}

// CR_EVD_FIN: a close record (STATE) carrying the owner's kept FIN (its task fields are the
// closing task's). Only a state record reads the bit and its fields; it encodes back the same
// bytes, and fin_record() is the FIN's own state record.
TEST(Decoder, FinEvidenceBitIsReadOnAStateRecordOnly) {
  for (const bool set : {true, false}) {
    for (const auto type : {CR_EV_STATE, CR_EV_RESET_RECEIVED, CR_EV_SOCK_CALL}) {
      cr_event r = every_field_record();
      r.type = type;
      r.state = CR_TCP_CLOSE;
      r.evidence = static_cast<decltype(r.evidence)>(set ? CR_EVD_FIN : 0);
      r.fin_sent_ns = 0x1122334455667788ull;
      r.fin_old_state = CR_TCP_CLOSE_WAIT;
      r.fin_state = CR_TCP_LAST_ACK;
      r.fin_shutdown = 2;
      const auto raw = std::as_bytes(std::span(&r, 1));
      DecodeError err;
      const auto ev = Decoder().decode(raw, &err);
      ASSERT_TRUE(ev) << err.message;
      const bool carried = set && type == CR_EV_STATE;
      EXPECT_EQ(ev->fin.carried, carried) << "type " << int(type) << " bit " << set;
      if (!carried) {
        EXPECT_EQ(ev->fin, CarriedFin{});
        continue;
      }
      EXPECT_EQ(ev->fin, (CarriedFin{true, 0x1122334455667788ull, CR_TCP_CLOSE_WAIT, CR_TCP_LAST_ACK, 2}));
      EXPECT_EQ(ev->count, 0u);
      std::array<std::byte, Decoder::kRecordSize> back{};
      Decoder::encode(*ev, back);
      EXPECT_EQ(std::memcmp(back.data(), raw.data(), raw.size()), 0);
      const Event fin = fin_record(*ev);
      EXPECT_EQ(fin.type, EventType::StateChange);
      EXPECT_EQ(fin.ts_ns, 0x1122334455667788ull);
      EXPECT_EQ(fin.old_state, CR_TCP_CLOSE_WAIT);
      EXPECT_EQ(fin.state, CR_TCP_LAST_ACK);
      EXPECT_EQ(fin.shutdown, 2);
      EXPECT_EQ(fin.task, ev->task);
      EXPECT_EQ(fin.cookie, ev->cookie);
      EXPECT_TRUE(task_owns_socket(fin));
    }
  }
}

TEST(Decoder, EachFlagBitIsItsOwnField) {
  for (unsigned bit = 0; bit < 7; ++bit) {
    cr_event r = every_field_record();
    r.flags = static_cast<unsigned char>(1u << bit);
    const auto raw = std::as_bytes(std::span(&r, 1));
    const auto ev = Decoder().decode(raw, nullptr);
    ASSERT_TRUE(ev);
    std::array<std::byte, Decoder::kRecordSize> back{};
    Decoder::encode(*ev, back);
    EXPECT_EQ(std::memcmp(back.data(), raw.data(), raw.size()), 0) << "flag bit " << bit;
  }
}

TEST(Decoder, ReasonAndStateNamesComeFromTheSharedLists) {
  EXPECT_EQ(rst_reason_name(RstReason::Unavailable), "");
  EXPECT_EQ(rst_reason_name(RstReason::TcpAbortOnClose), "TCP_ABORT_ON_CLOSE");
  EXPECT_EQ(rst_reason_name(RstReason::Other), "OTHER");
  EXPECT_EQ(static_cast<int>(RstReason::Other), CR_RST_OTHER);
  EXPECT_EQ(static_cast<int>(RstReason::Mptcp), 18);
  EXPECT_EQ(tcp_state_name(tcp::kEstablished), "ESTABLISHED");
  EXPECT_EQ(tcp_state_name(tcp::kNewSynRecv), "NEW_SYN_RECV");
  EXPECT_EQ(tcp_state_name(0), "UNKNOWN");
  EXPECT_EQ(tcp_state_name(200), "STATE_200");
  EXPECT_EQ(kDefaultLoopThreshold, 64u);
}

TEST(Decoder, RejectsWrongSize) {
  std::array<std::byte, Decoder::kRecordSize - 1> raw{};
  DecodeError err;
  EXPECT_FALSE(Decoder().decode(raw, &err));
  EXPECT_NE(err.message.find("expected"), std::string::npos);
}

TEST(Decoder, RejectsUnknownTypeAndFamily) {
  cr_event r{};
  r.type = 99;
  DecodeError err;
  auto bytes = std::as_bytes(std::span(&r, 1));
  EXPECT_FALSE(Decoder().decode(bytes, &err));
  r.type = CR_EV_STATE;
  r.family = 7;
  EXPECT_FALSE(Decoder().decode(bytes, &err));
}

// record's raw path (Decoder::check) accepts exactly what decode() accepts, and reads the
// same network namespace: every value of each checked byte, on a valid record.
TEST(Decoder, CheckAgreesWithDecodeOnEveryValueOfTheCheckedFields) {
  cr_event base{};
  base.type = CR_EV_STATE;
  base.family = 2;
  base.netns = 4026532245u;
  const auto try_one = [](const cr_event& r) {
    const auto raw = std::as_bytes(std::span(&r, 1));
    uint32_t netns = 0;
    DecodeError check_err, decode_err;
    const bool checked = Decoder::check(raw, &netns, &check_err);
    const auto ev = Decoder().decode(raw, &decode_err);
    EXPECT_EQ(checked, ev.has_value()) << decode_err.message << " / " << check_err.message;
    if (checked && ev) {
      EXPECT_EQ(netns, ev->netns);
    }
    if (!checked && !ev) {
      EXPECT_EQ(check_err.message, decode_err.message);
    }
    return checked;
  };
  ASSERT_TRUE(try_one(base));
  size_t accepted = 0;
  // base with one checked field set to v
  auto with = [&](auto cr_event::*field, unsigned v) {
    cr_event r = base;
    r.*field = static_cast<std::remove_reference_t<decltype(r.*field)>>(v);
    return try_one(r);
  };
  for (unsigned v = 0; v < 256; ++v) {
    accepted += with(&cr_event::type, v) + with(&cr_event::family, v) + with(&cr_event::reason, v) +
                with(&cr_event::call, v) + with(&cr_event::phase, v);
  }
  EXPECT_GT(accepted, 5u);
  EXPECT_LT(accepted, 5u * 256);
  // another size is never checked, only decoded (v1 journals, a truncated record)
  std::array<std::byte, Decoder::kRecordSizeV1> v1{};
  EXPECT_FALSE(Decoder::check(v1, nullptr, nullptr));
  EXPECT_FALSE(Decoder::check(std::as_bytes(std::span(&base, 1)).first(100), nullptr, nullptr));
}

TEST(Decoder, CommWithoutTerminatorIsCutAt16) {
  cr_event r{};
  r.type = CR_EV_STATE;
  std::memset(r.comm, 'A', sizeof(r.comm));
  DecodeError err;
  const auto ev = Decoder().decode(std::as_bytes(std::span(&r, 1)), &err);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->task.comm, std::string(16, 'A'));
}

}  // namespace
}  // namespace connreset
