#include "decode/decoder.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "connreset.h"

namespace connreset {

static_assert(sizeof(cr_event) == Decoder::kRecordSize,
              "struct cr_event changed: update kRecordSize and bump CR_EVENT_VERSION");

std::string rst_reason_name(RstReason r) {
  if (r == RstReason::Unavailable) return "";  // the kernel has no reasons: no name to show
  switch (r) {
#define CONNRESET_RST_NAME(name, camel, value, kind) \
  case RstReason::camel: return #name;
    CR_RST_REASONS(CONNRESET_RST_NAME)
#undef CONNRESET_RST_NAME
  }
  return "OTHER";
}

static_assert(CR_EVENT_VERSION == 3, "a new event version: say here which older ones keep this layout");

size_t Decoder::record_size(uint16_t event_version) {
  if (event_version == CR_EVENT_VERSION || event_version == kVersionV2) return kRecordSize;
  if (event_version == kVersionV1) return kRecordSizeV1;
  return 0;
}

static_assert(offsetof(cr_event, since_send_ms) == 132 && Decoder::kRecordSizeV1 == 136,
              "v1 records end at comm (+ padding)");

namespace {

Endpoint endpoint(uint8_t family, const unsigned char (&addr)[16], uint16_t port) {
  Endpoint e;
  e.family = family;
  e.port = port;
  std::copy_n(addr, family == 2 ? 4 : 16, e.addr.begin());
  return e;
}

// The one place the enums' ranges are checked: decode() and check() cannot disagree.
std::string range_error(unsigned type, unsigned family, unsigned reason, unsigned call, unsigned phase) {
  if (type < CR_EV_RESET_SENT || type > CR_EV_CLOSE) return "unknown record type " + std::to_string(type);
  if (family != 0 && family != 2 && family != 10) return "unknown address family " + std::to_string(family);
  if (reason > CR_RST_OTHER || call > CR_CALL_SEND || phase > CR_PHASE_ERROR) {
    return "field out of range (reason/call/phase)";
  }
  return "";
}

// A field of the record at its offset, by value (the ring's bytes need no alignment).
template <class T>
T field_at(std::span<const std::byte> raw, size_t offset) {
  T v;
  std::memcpy(&v, raw.data() + offset, sizeof(v));
  return v;
}

void assign_comm(std::string& out, const char (&comm)[CR_COMM_LEN]) {
  out.assign(comm, strnlen(comm, CR_COMM_LEN));  // reuses out's memory
}

}  // namespace

std::optional<Event> Decoder::decode(std::span<const std::byte> raw, DecodeError* error) const {
  Event ev;
  if (!decode(raw, ev, error)) return std::nullopt;
  return ev;
}

bool Decoder::decode(std::span<const std::byte> raw, Event& ev, DecodeError* error) const {
  auto fail = [&](std::string msg) {
    if (error) error->message = std::move(msg);
    return false;
  };
  cr_event r{};
  if (raw.size() == sizeof(cr_event)) {
    std::memcpy(&r, raw.data(), sizeof(r));
  } else if (raw.size() == kRecordSizeV1) {
    // v1 ends at comm; what v2 put into v1's padding stays zero (no evidence)
    std::memcpy(&r, raw.data(), offsetof(cr_event, rst_flags));
    std::memcpy(&r.laddr, raw.data() + offsetof(cr_event, laddr),
                offsetof(cr_event, since_send_ms) - offsetof(cr_event, laddr));
  } else {
    return fail("record of " + std::to_string(raw.size()) + " bytes, expected " +
                std::to_string(sizeof(cr_event)));
  }
  if (std::string why = range_error(r.type, r.family, r.reason, r.call, r.phase); !why.empty()) {
    return fail(std::move(why));
  }

  // every field is set (ev may hold the previous event: report decodes into one slot per host)
  ev.type = static_cast<EventType>(r.type);
  ev.ts_ns = r.ts_ns;
  ev.cookie = r.cookie;
  ev.netns = r.netns;
  ev.local = endpoint(r.family, r.laddr, r.lport);
  ev.remote = endpoint(r.family, r.raddr, r.rport);
  ev.task.pid = r.pid;
  ev.task.tid = r.tid;
  assign_comm(ev.task.comm, r.comm);
  ev.task.cgroup = r.cgroup;
  ev.state = r.state;
  ev.old_state = r.old_state;
  ev.reason = static_cast<RstReason>(r.reason);
  ev.active = r.flags & CR_F_ACTIVE;
  ev.has_socket = r.flags & CR_F_HAS_SK;
  ev.timewait = r.flags & CR_F_TW;
  ev.linger_on = r.flags & CR_F_LINGER;
  ev.task_exiting = r.flags & CR_F_EXITING;
  ev.orphan = r.flags & CR_F_ORPHAN;
  ev.fin_received = r.flags & CR_F_FIN_RCVD;
  ev.closes_after = r.flags & CR_F_CLOSES;
  ev.shutdown = r.shutdown;
  ev.seg_flags = r.seg_flags;
  ev.unread = r.unread;
  ev.linger_ms = r.linger_ms;
  ev.keepalive = r.keepalive != 0;
  ev.probes_out = r.probes_out;
  ev.evidence.socket = r.evidence & CR_EVD_SOCK;
  ev.evidence.times = r.evidence & CR_EVD_TIMES;
  ev.evidence.segment = r.evidence & CR_EVD_SEG;
  ev.evidence.not_rst = r.evidence & CR_EVD_NOT_RST;
  ev.evidence.connect = r.type == CR_EV_RESET_RECEIVED && (r.evidence & CR_EVD_CONNECT);
  ev.evidence.since_send_ms = r.since_send_ms;
  ev.evidence.since_recv_ms = r.since_recv_ms;
  ev.evidence.since_ack_ms = r.since_ack_ms;
  ev.evidence.unacked = r.unacked;
  ev.evidence.srtt_us = r.srtt_us;
  ev.evidence.retrans = r.retrans;
  ev.evidence.rst_acked = r.rst_acked;
  const bool carries_fin = r.type == CR_EV_STATE && (r.evidence & CR_EVD_FIN);
  ev.evidence.rst_flags = carries_fin ? 0 : r.rst_flags;
  ev.evidence.bytes_acked = r.bytes_acked;
  ev.evidence.bytes_received = r.bytes_received;
  ev.call = static_cast<Call>(r.call);
  ev.phase = static_cast<Phase>(r.phase);
  ev.ret = r.ret;
  // the same bytes mean different things per type (bpf/connreset.h); every field is set
  const bool lifecycle = r.type == CR_EV_RESET_RECEIVED;
  ev.evidence.opened_ns = lifecycle ? r.opened_ns : 0;
  ev.evidence.fin_ns = lifecycle ? r.fin_ns : 0;
  ev.count = lifecycle || carries_fin ? 0 : r.count;
  ev.bytes = lifecycle ? 0 : r.bytes;
  ev.fin = carries_fin ? CarriedFin{true, r.fin_sent_ns, r.fin_old_state, r.fin_state, r.fin_shutdown} : CarriedFin{};
  return true;
}

bool Decoder::check(std::span<const std::byte> raw, uint32_t* netns, DecodeError* error) {
  if (raw.size() != sizeof(cr_event)) {
    if (error) error->message = "record of " + std::to_string(raw.size()) + " bytes: decode() it";
    return false;
  }
#define CR_FIELD(name) field_at<decltype(cr_event::name)>(raw, offsetof(cr_event, name))
  std::string why = range_error(CR_FIELD(type), CR_FIELD(family), CR_FIELD(reason), CR_FIELD(call), CR_FIELD(phase));
  if (!why.empty()) {
    if (error) error->message = std::move(why);
    return false;
  }
  if (netns) *netns = CR_FIELD(netns);
#undef CR_FIELD
  return true;
}

void Decoder::encode(const Event& ev, std::span<std::byte, kRecordSize> out) {
  cr_event r{};
  r.type = static_cast<unsigned char>(ev.type);
  r.ts_ns = ev.ts_ns;
  r.cookie = ev.cookie;
  r.netns = ev.netns;
  r.family = ev.local.family ? ev.local.family : ev.remote.family;
  std::copy_n(ev.local.addr.begin(), 16, r.laddr);
  std::copy_n(ev.remote.addr.begin(), 16, r.raddr);
  r.lport = ev.local.port;
  r.rport = ev.remote.port;
  r.pid = ev.task.pid;
  r.tid = ev.task.tid;
  r.cgroup = ev.task.cgroup;
  std::memcpy(r.comm, ev.task.comm.data(), std::min<size_t>(ev.task.comm.size(), CR_COMM_LEN));
  r.state = ev.state;
  r.old_state = ev.old_state;
  r.reason = static_cast<unsigned char>(ev.reason);
  r.flags = static_cast<unsigned char>(
      (ev.active ? CR_F_ACTIVE : 0) | (ev.has_socket ? CR_F_HAS_SK : 0) |
      (ev.timewait ? CR_F_TW : 0) | (ev.linger_on ? CR_F_LINGER : 0) |
      (ev.task_exiting ? CR_F_EXITING : 0) | (ev.orphan ? CR_F_ORPHAN : 0) |
      (ev.fin_received ? CR_F_FIN_RCVD : 0) | (ev.closes_after ? CR_F_CLOSES : 0));
  r.shutdown = ev.shutdown;
  r.seg_flags = ev.seg_flags;
  r.unread = ev.unread;
  r.linger_ms = ev.linger_ms;
  r.keepalive = ev.keepalive ? 1 : 0;
  r.probes_out = ev.probes_out;
  const RstEvidence& d = ev.evidence;
  r.evidence = static_cast<unsigned char>((d.socket ? CR_EVD_SOCK : 0) | (d.times ? CR_EVD_TIMES : 0) |
                                          (d.segment ? CR_EVD_SEG : 0) | (d.not_rst ? CR_EVD_NOT_RST : 0) |
                                          (d.connect ? CR_EVD_CONNECT : 0) |
                                          (ev.fin.carried ? CR_EVD_FIN : 0));
  r.since_send_ms = d.since_send_ms;
  r.since_recv_ms = d.since_recv_ms;
  r.since_ack_ms = d.since_ack_ms;
  r.unacked = d.unacked;
  r.srtt_us = d.srtt_us;
  r.retrans = d.retrans;
  r.rst_acked = d.rst_acked;
  r.rst_flags = d.rst_flags;
  r.bytes_acked = d.bytes_acked;
  r.bytes_received = d.bytes_received;
  r.call = static_cast<unsigned char>(ev.call);
  r.phase = static_cast<unsigned char>(ev.phase);
  r.ret = ev.ret;
  if (ev.type == EventType::ResetReceived) {
    r.opened_ns = d.opened_ns;
    r.fin_ns = d.fin_ns;
  } else if (ev.fin.carried) {
    r.fin_sent_ns = ev.fin.ts_ns;
    r.fin_old_state = ev.fin.old_state;
    r.fin_state = ev.fin.state;
    r.fin_shutdown = ev.fin.shutdown;
    r.bytes = ev.bytes;
  } else {
    r.count = ev.count;
    r.bytes = ev.bytes;
  }
  std::memcpy(out.data(), &r, sizeof(r));
}

}  // namespace connreset
