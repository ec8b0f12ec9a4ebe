#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/escape.h"
#include "correlate/correlator.h"
#include "explain/explainer.h"
#include "sinks/columns_sink.h"
#include "sinks/json_format.h"
#include "sinks/json_line.h"
#include "sinks/text_sink.h"
#include "unit/event_builder.h"

namespace connreset {
namespace {

using namespace connreset::testing;

Explanation sample(const std::string& client_comm = "curl") {
  ResetCase c;
  c.ts_ns = 10 * kMs;
  c.sent = abort_on_close(10 * kMs, Conn{11, ep(18081), ep(46252)}, task(4100, "python3"), 90266);
  c.received = rst_received(10 * kMs, Conn{22, ep(46252), ep(18081)}, task(4100, "python3"));
  c.local = ep(46252);
  c.remote = ep(18081);
  c.netns = kNetns;
  c.sender = task(4100, "python3");
  c.receiver = task(4121, client_comm.c_str());
  c.closer = CloseInfo{task(4100, "python3"), "close", false, 10 * kMs};
  c.observed.push_back(Observation{task(4121, client_comm.c_str()), ObservedCall::Recv, ECONNRESET, 1,
                                   11 * kMs, 11 * kMs, false});
  return explain(c);
}

TEST(Escape, TerminalEscapesAndControlBytesAreNeutralised) {
  EXPECT_EQ(escape_for_terminal("curl"), "curl");
  EXPECT_EQ(escape_for_terminal("a\x1b]0;pwned\x07"), "a\\x1b]0;pwned\\x07");
  EXPECT_EQ(escape_for_terminal("back\\slash"), "back\\\\slash");
  EXPECT_EQ(escape_for_terminal("\xff\n"), "\\xff\\x0a");
}

TEST(Json, ResetRecordHasEveryDesignField) {
  const nlohmann::json j = reset_to_json(sample(), ClockMap{0});
  for (const char* field : {"schema", "type", "time", "ts_ns", "cause", "rst_reason", "netns", "local",
                            "remote", "sender", "receiver", "closer", "unread_bytes", "linger",
                            "observed", "explanation", "advice"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  EXPECT_EQ(j["type"], "reset");
  EXPECT_EQ(j["cause"], "unread_data_at_close");
  EXPECT_EQ(j["rst_reason"], "TCP_ABORT_ON_CLOSE");
  EXPECT_EQ(j["local"]["addr"], "127.0.0.1");
  EXPECT_EQ(j["local"]["port"], 46252);
  EXPECT_EQ(j["sender"]["pid"], 4100);
  EXPECT_EQ(j["receiver"]["comm"], "curl");
  EXPECT_EQ(j["closer"]["kind"], "close");
  EXPECT_EQ(j["unread_bytes"], 90266);
  EXPECT_EQ(j["observed"][0]["result"], "ECONNRESET");
  EXPECT_EQ(j["time"], "1970-01-01T00:00:00.010000000Z");
}

// Sinks render the explanation, never the raw kernel records behind it: with the
// records gone, the output is the same.
TEST(Json, RendersTheExplanationNotTheKernelRecords) {
  Explanation x = sample();
  EXPECT_TRUE(x.rst_sent_locally && x.rst_received_locally);
  EXPECT_EQ(x.sender_state, "CLOSE");
  EXPECT_EQ(x.receiver_state, "ESTABLISHED");
  EXPECT_EQ(x.sent_netns, kNetns);
  const nlohmann::json before = reset_to_json(x, ClockMap{0});
  const std::string text_before = render_text(x, ClockMap{0});
  x.reset.sent.reset();
  x.reset.received.reset();
  EXPECT_EQ(reset_to_json(x, ClockMap{0}), before);
  EXPECT_EQ(render_text(x, ClockMap{0}), text_before);
  EXPECT_EQ(before["sender_state"], "CLOSE");
  EXPECT_EQ(before["receiver_state"], "ESTABLISHED");
  EXPECT_EQ(before["sender"]["netns"], kNetns);
  EXPECT_EQ(before["rst_sent_locally"], true);
}

TEST(Json, RemoteSenderIsNull) {
  ResetCase c;
  c.received = rst_received(1, Conn{22, ep(40000), ep(80, 0x0a000001)}, task(1, "x"));
  const nlohmann::json j = reset_to_json(explain(c), ClockMap{0});
  EXPECT_TRUE(j["sender"].is_null());
  EXPECT_TRUE(j["rst_reason"].is_null());
  EXPECT_TRUE(j["unread_bytes"].is_null());
}

TEST(Json, InvalidUtf8InProcessNamesDoesNotThrow) {
  const std::string line = dump_line(reset_to_json(sample("bad\xff\xfe"), ClockMap{0}));
  nlohmann::json parsed;
  EXPECT_NO_THROW(parsed = nlohmann::json::parse(line));
  EXPECT_EQ(parsed["type"], "reset");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

// trace --json writes reset lines directly (json_line.h): byte for byte what the json tree
// gives, for every shape a reset takes (remote sender, pods, linger, hostile and non-UTF-8 names).
std::string tree_line(const Explanation& x, const ClockMap& clock, const std::string& host) {
  nlohmann::json j = reset_to_json(x, clock);
  j["host"] = host;
  return dump_line(j);
}

std::string direct_line(const Explanation& x, const ClockMap& clock, const std::string& host) {
  std::string out;
  append_reset_line(out, x, clock, host);
  return out;
}

TEST(Json, DirectResetLine_IsByteForByteTheTreesLine) {
  std::vector<Explanation> cases;
  cases.push_back(sample());
  cases.push_back(sample("bad\xff\xfe"));
  cases.push_back(sample("q\"uo\\te\x01\x1f\t\x7f"));
  cases.push_back(sample("caf\xc3\xa9"));
  {
    ResetCase c;
    c.received = rst_received(1, Conn{22, ep(40000), ep(80, 0x0a000001)}, task(1, "x"));
    cases.push_back(explain(c));
    // the same RST with the socket's evidence: an inferred cause and its numbers
    RstEvidence& d = c.received->evidence;
    d.socket = d.times = d.segment = true;
    d.rst_flags = tcp::kSegRst | tcp::kSegAck;
    d.since_send_ms = 30;
    d.since_recv_ms = 90'230;
    d.since_ack_ms = 29;
    d.srtt_us = 1234;
    d.bytes_acked = 101;
    d.bytes_received = 51;
    c.receiver = task(8, "cli");
    const Explanation inferred = explain(c);
    EXPECT_TRUE(inferred.inferred && inferred.evidence);
    cases.push_back(inferred);
  }
  {
    Explanation x = sample();
    Workload w;
    w.pod = PodRef{"6f1c2b3a-4d5e-4f60-8a9b-0c1d2e3f4a5b", "shop", ""};
    w.container = ContainerRef{std::string(64, 'a'), "", "app"};
    x.workloads.emplace(4121, std::make_shared<const Workload>(w));
    x.workloads.emplace(4100, std::make_shared<const Workload>(w));
    x.linger = Linger{true, 0.5};
    x.unread_bytes = 7;
    x.reset.actor = task(4100, "python3");
    x.reset.closer->exiting = true;
    cases.push_back(x);
  }
  {
    ResetCase c;
    c.sent = no_socket_reply(5 * kMs, ep(80), ep(40000), tcp::kSegSyn, task(0, "swapper/0"));
    c.ts_ns = 5 * kMs;
    cases.push_back(explain(c));
  }
  const ClockMap clock{1'700'000'000'000'000'000};
  for (const Explanation& x : cases) {
    EXPECT_EQ(direct_line(x, clock, "node-1"), tree_line(x, clock, "node-1"));
    EXPECT_EQ(direct_line(x, ClockMap{0}, "h\"ost"), tree_line(x, ClockMap{0}, "h\"ost"));
  }
}

// Every byte value at every position of strings across the 8-byte steps of the escape
// scan: the writer's strings are byte for byte nlohmann's.
TEST(Json, WriterEscapesEveryByteAsTheTreeDoes) {
  for (size_t len = 1; len <= 19; len += 3) {
    for (size_t pos = 0; pos < len; ++pos) {
      for (int b = 0; b < 256; ++b) {
        std::string text(len, 'a');
        text[pos] = static_cast<char>(b);
        std::string out;
        JsonWriter(out).str(text);
        ASSERT_EQ(out, dump_line(nlohmann::json(text))) << "len " << len << " pos " << pos << " byte " << b;
      }
    }
  }
}

// The reset line writes the program's own texts with plain() (no escape scan): every one of
// them, for every value it can take, must be written as the tree writes it.
TEST(Json, PlainTextsNeedNoEscape) {
  auto expect_plain = [](std::string_view text) {
    std::string out;
    JsonWriter(out).plain(text);
    EXPECT_EQ(out, dump_line(nlohmann::json(std::string(text)))) << text;
  };
  for (Cause c : kAllCauses) {
    expect_plain(cause_id(c));
    expect_plain(cause_info(c).advice);
    expect_plain(cause_info(c).kernel_path);
  }
  for (int v = 0; v < 256; ++v) {
    expect_plain(tcp_state_name(static_cast<uint8_t>(v)));
    expect_plain(rst_reason_name(static_cast<RstReason>(v)));
  }
  for (int err = 0; err < 256; ++err) expect_plain(errno_name(err));
  for (ObservedCall call : {ObservedCall::Recv, ObservedCall::Send, ObservedCall::Connect}) {
    Observation o;
    o.call = call;
    expect_plain(o.call_name());
  }
  expect_plain(kJsonSchema);
}

TEST(Text, BlockNamesBothEndsTheCauseAndTheFix) {
  const std::string text = render_text(sample(), ClockMap{0});
  EXPECT_NE(text.find("RESET 127.0.0.1:46252 <- 127.0.0.1:18081  cause=unread_data_at_close"),
            std::string::npos) << text;
  EXPECT_NE(text.find("curl[4121] recv() -> ECONNRESET"), std::string::npos) << text;
  EXPECT_NE(text.find("python3[4100] close()d its end with 90,266 unread bytes"), std::string::npos);
  EXPECT_NE(text.find("fix: "), std::string::npos);
}

TEST(Text, FirstLineStartsWithTheTime) {
  const std::string text = render_text(sample(), ClockMap{0});
  EXPECT_EQ(text.rfind(clock_hms_ms(10 * kMs) + " RESET ", 0), 0u) << text;
}

TEST(Text, PodNamedNextToTheProcess) {
  Explanation x = sample();
  Workload w;
  w.pod = PodRef{"6f1c2b3a-4d5e-4f60-8a9b-0c1d2e3f4a5b", "shop", "cart"};
  w.container = ContainerRef{std::string(64, 'a'), "containerd", "app"};
  x.workloads.emplace(4121, std::make_shared<const Workload>(w));
  const std::string text = render_text(x, ClockMap{0});
  EXPECT_NE(text.find("curl[4121] (pod shop/cart) recv() -> ECONNRESET"), std::string::npos) << text;
  EXPECT_NE(text.find("receiver curl[4121] in pod shop/cart, container app (containerd aaaaaaaaaaaa)"),
            std::string::npos) << text;
  const nlohmann::json j = reset_to_json(x, ClockMap{0});
  EXPECT_EQ(j["receiver"]["pod"]["namespace"], "shop");
  EXPECT_EQ(j["receiver"]["container"]["runtime"], "containerd");
  EXPECT_TRUE(j["sender"]["pod"].is_null());
  EXPECT_TRUE(j["closer"].contains("container"));
}

TEST(Columns, OneLinePerResetTimeFirst) {
  const std::string line = columns_line(sample(), ClockMap{0});
  EXPECT_EQ(line.rfind(clock_hms_ms(10 * kMs) + " unread_data_at_close ", 0), 0u) << line;
  EXPECT_NE(line.find("python3[4100]"), std::string::npos);
  EXPECT_NE(line.find("curl[4121]"), std::string::npos);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const std::string header = columns_header();
  EXPECT_EQ(header.rfind("TIME", 0), 0u);
  for (const char* col : {"CAUSE", "SENDER", "RECEIVER", "LOCAL", "REMOTE"}) {
    EXPECT_NE(header.find(col), std::string::npos) << col;
  }
  // the columns line up: each field starts where its header does
  EXPECT_EQ(line.find("python3"), header.find("SENDER"));
}

TEST(Text, HostileCommIsEscaped) {
  const std::string text = render_text(sample("x\x1b[31m"), ClockMap{0});
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace connreset
