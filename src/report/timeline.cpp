#include "report/timeline.h"

#include "common/escape.h"
#include "common/names.h"
#include "correlate/task_context.h"
#include "explain/explainer.h"

namespace connreset::report {
namespace {

using Kind = TimelineEntry::Kind;

// The texts are appended to the entry's own strings: a report reuses its entries from reset
// to reset, so once they have grown no entry allocates (a storm's report has millions).
void call_result(const Event& ev, std::string& s) {
  s += ev.call == Call::Recv ? "recv()" : "send()";
  switch (ev.phase) {
    case Phase::Data: s += " -> data (" + thousands(ev.bytes) + " bytes)"; break;
    case Phase::Eof: s += " -> 0 (EOF)"; break;
    case Phase::Error: s += " -> " + errno_name(-ev.ret); break;
  }
  if (ev.count > 1) s += ", " + thousands(ev.count) + " calls";
}

Kind state_kind(const Event& ev) {
  if (ev.state == tcp::kSynSent) return Kind::Connect;
  if (ev.state == tcp::kFinWait1 || ev.state == tcp::kLastAck || ev.state == tcp::kCloseWait) {
    return Kind::Fin;
  }
  return Kind::State;
}

void state_text(const Event& ev, std::string& s) {
  if (ev.state == tcp::kSynSent) s += "connect() ";
  s += tcp_state_name(ev.old_state);
  s += " -> ";
  s += tcp_state_name(ev.state);
  if (ev.state == tcp::kFinWait1 || ev.state == tcp::kLastAck) s += " (FIN sent)";
  if (ev.state == tcp::kCloseWait) s += " (FIN received)";
  if (ev.unread) s += ", " + thousands(ev.unread) + " bytes unread";
}

void reset_sent_text(const Event& ev, std::string& s) {
  s += ev.has_socket ? "RST sent" : "RST sent (no socket)";
  if (const std::string r = rst_reason_name(ev.reason); !r.empty()) {
    s += " reason=";
    s += r;
  }
  if (ev.unread) s += ", " + thousands(ev.unread) + " bytes unread";
  if (ev.linger_on) s += ", SO_LINGER " + std::to_string(ev.linger_ms / 1000) + "s";
}

void task_label_into(const TaskRef& t, std::string& s) {
  s += escape_for_terminal(t.comm);
  s += '[';
  s += std::to_string(t.pid);
  s += ']';
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
  timeline_entry(ev, end, t);
  return t;
}

void timeline_entry(const Event& ev, int end, TimelineEntry& t) {
  t.ts_ns = ev.ts_ns;
  t.end = end;
  t.what.clear();
  t.who.clear();
  switch (ev.type) {
    case EventType::StateChange:
      t.kind = state_kind(ev);
      state_text(ev, t.what);
      if (task_owns_socket(ev)) task_label_into(ev.task, t.who);  // connect(), close()/shutdown()
      break;
    case EventType::SockCall:
      t.kind = ev.phase == Phase::Data ? Kind::Data : Kind::RecvResult;
      call_result(ev, t.what);
      task_label_into(ev.task, t.who);
      break;
    case EventType::Close:
      t.kind = Kind::Close;
      t.what += ev.closing_whole_socket() ? "close()" : "shutdown()";
      if (ev.task_exiting) t.what += " by an exiting task";
      if (ev.unread) t.what += ", " + thousands(ev.unread) + " bytes unread";
      task_label_into(ev.task, t.who);
      break;
    case EventType::ResetSent:
      t.kind = Kind::Rst;
      reset_sent_text(ev, t.what);
      break;
    case EventType::ResetReceived:
      t.kind = Kind::Rst;
      t.what += "RST received in ";
      t.what += tcp_state_name(ev.state);
      break;
  }
}

}  // namespace connreset::report
