#include "report/timeline.h"

#include "common/names.h"
#include "correlate/task_context.h"
#include "explain/explainer.h"

namespace connreset::report {
namespace {

using Kind = TimelineEntry::Kind;

std::string call_result(const Event& ev) {
  const std::string call = ev.call == Call::Recv ? "recv()" : "send()";
  std::string s;
  switch (ev.phase) {
    case Phase::Data: s = call + " -> data (" + thousands(ev.bytes) + " bytes)"; break;
    case Phase::Eof: s = call + " -> 0 (EOF)"; break;
    case Phase::Error: s = call + " -> " + errno_name(-ev.ret); break;
  }
  if (ev.count > 1) s += ", " + thousands(ev.count) + " calls";
  return s;
}

Kind state_kind(const Event& ev) {
  if (ev.state == tcp::kSynSent) return Kind::Connect;
  if (ev.state == tcp::kFinWait1 || ev.state == tcp::kLastAck || ev.state == tcp::kCloseWait) {
    return Kind::Fin;
  }
  return Kind::State;
}

std::string state_text(const Event& ev) {
  std::string s = tcp_state_name(ev.old_state) + " -> " + tcp_state_name(ev.state);
  if (ev.state == tcp::kSynSent) s = "connect() " + s;
  if (ev.state == tcp::kFinWait1 || ev.state == tcp::kLastAck) s += " (FIN sent)";
  if (ev.state == tcp::kCloseWait) s += " (FIN received)";
  if (ev.unread) s += ", " + thousands(ev.unread) + " bytes unread";
  return s;
}

std::string reset_sent_text(const Event& ev) {
  std::string s = ev.has_socket ? "RST sent" : "RST sent (no socket)";
  if (const std::string r = rst_reason_name(ev.reason); !r.empty()) s += " reason=" + r;
  if (ev.unread) s += ", " + thousands(ev.unread) + " bytes unread";
  if (ev.linger_on) s += ", SO_LINGER " + std::to_string(ev.linger_ms / 1000) + "s";
  return s;
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Connect: return "connect";
    case Kind::State: return "state";
    case Kind::Data: return "data";
    case Kind::Fin: return "fin";
    case Kind::Rst: return "rst";
    case Kind::RecvResult: return "result";
    case Kind::Close: return "close";
  }
  return "state";
}

TimelineEntry timeline_entry(const Event& ev, int end) {
  TimelineEntry t;
  t.ts_ns = ev.ts_ns;
  t.end = end;
  switch (ev.type) {
    case EventType::StateChange:
      t.kind = state_kind(ev);
      t.what = state_text(ev);
      if (task_owns_socket(ev)) t.who = task_label(ev.task);  // connect(), close()/shutdown()
      break;
    case EventType::SockCall:
      t.kind = ev.phase == Phase::Data ? Kind::Data : Kind::RecvResult;
      t.what = call_result(ev);
      t.who = task_label(ev.task);
      break;
    case EventType::Close:
      t.kind = Kind::Close;
      t.what = std::string(ev.closing_whole_socket() ? "close()" : "shutdown()") +
               (ev.task_exiting ? " by an exiting task" : "") +
               (ev.unread ? ", " + thousands(ev.unread) + " bytes unread" : "");
      t.who = task_label(ev.task);
      break;
    case EventType::ResetSent:
      t.kind = Kind::Rst;
      t.what = reset_sent_text(ev);
      break;
    case EventType::ResetReceived:
      t.kind = Kind::Rst;
      t.what = "RST received in " + tcp_state_name(ev.state);
      break;
  }
  return t;
}

}  // namespace connreset::report
