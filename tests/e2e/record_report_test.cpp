// connreset record and report, as a user (or systemd) runs them: real kernel,
// real sockets, the real binary; kill -9, signals, rotation, two "hosts".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "e2e/harness.h"
#include "unit/event_builder.h"
#include "unit/journal_test_util.h"
#include "e2e/subprocess.h"
#include "scenarios/netns.h"

namespace connreset::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  size_t at = 0;
  for (size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
    out.push_back(nlohmann::json::parse(text.substr(at, nl - at)));
  }
  return out;
}

nlohmann::json reset_on_port(const std::vector<nlohmann::json>& lines, uint16_t port) {
  for (const auto& j : lines) {
    if (j["type"] == "reset" && (j["remote"]["port"] == port || j["local"]["port"] == port)) return j;
  }
  return nullptr;
}

// Condition waits, not fixed sleeps: `report` is asked again until the
// journal holds the reset on `port` (the recorder polls every 100 ms; under
// qemu TCG much slower), up to a deadline.
bool journaled(const std::string& dir, uint16_t port, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const Ran r = run({CONNRESET_BINARY, "report", "--json", dir});
    try {
      if (!reset_on_port(json_lines(r.out), port).is_null()) return true;
    } catch (const nlohmann::json::exception&) {
      // a line cut by a concurrent write: ask again
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

class RecordReport : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    static uint32_t ns = enter_private_netns(&err);
    ASSERT_NE(ns, 0u) << err;
    netns_ = ns;
    char tmpl[] = "/tmp/connreset-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
  }
  void TearDown() override { fs::remove_all(tmp_); }

  // A recorder of this test's namespace, started once it says it is journaling.
  Proc start_recorder(const std::string& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{CONNRESET_BINARY, "record", "--out", dir, "--probes", family_name(),
                                  "--settle-ms", "100", "--netns", std::to_string(netns_)};
    args.insert(args.end(), extra.begin(), extra.end());
    Proc p = spawn(args);
    recorder_err_.clear();  // this recorder's words, not an earlier one's
    EXPECT_TRUE(read_until(p.err, recorder_err_, "journaling to", 20s)) << recorder_err_;
    return p;
  }

  uint32_t netns_ = 0;
  std::string tmp_;
  std::string recorder_err_;
};

TEST_F(RecordReport, KilledWithSigkill_ReportKeepsEverythingWrittenAndSaysSo) {
  const std::string dir = tmp_ + "/journal";
  Proc rec = start_recorder(dir);
  const ScenarioOutcome o = run_unread_data_at_close();
  ASSERT_TRUE(o.ok()) << o.error;
  EXPECT_TRUE(journaled(dir, o.server_port)) << "the reset never reached the journal";
  kill(rec.pid, SIGKILL);
  EXPECT_EQ(wait_exit(rec.pid), 128 + SIGKILL);

  EXPECT_EQ(mode_of(dir), 0700u);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(mode_of(e.path()), 0600u) << e.path();
  }
  EXPECT_EQ(files, 1u);

  const Ran r = run({CONNRESET_BINARY, "report", "--json", dir});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("no end record: the recorder did not stop cleanly"), std::string::npos) << r.err;
  const nlohmann::json reset = reset_on_port(json_lines(r.out), o.server_port);
  ASSERT_FALSE(reset.is_null()) << r.out;
  EXPECT_EQ(reset["cause"], "unread_data_at_close");
  EXPECT_EQ(reset["sender"]["pid"], o.server_pid);
  EXPECT_EQ(reset["receiver"]["pid"], o.client_pid);
  EXPECT_EQ(reset["receiver"]["comm"], "cr-client");
  EXPECT_EQ(reset["unread_bytes"], kUnreadScenarioBytes);

  // the text report: summary tables and the connection's timeline
  const Ran text = run({CONNRESET_BINARY, "report", dir, "--cause", "unread_data_at_close",
                        "--port", std::to_string(o.server_port)});
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("RESETS BY CAUSE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("timeline:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("recv() -> ECONNRESET"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("connect()"), std::string::npos) << text.out;
}

// The kernel leaves out state changes another record implies (its quiet path) and counts them;
// `record --all` journals every one, so report's timelines show the whole handshake. The count
// goes into the journal's counters and report's stats line either way.
TEST_F(RecordReport, RecordAll_JournalsEveryStateChange_TheQuietPathCountsWhatItLeftOut) {
  struct Run {
    std::string timeline;
    uint64_t states_folded = 0;
  };
  auto record_one = [&](const std::string& dir, std::vector<std::string> extra) -> Run {
    Proc rec = start_recorder(dir, std::move(extra));
    const ScenarioOutcome o = run_unread_data_at_close();
    EXPECT_TRUE(o.ok()) << o.error;
    EXPECT_TRUE(journaled(dir, o.server_port)) << "the reset never reached the journal";
    kill(rec.pid, SIGTERM);
    const std::string rest = read_all(rec.err);
    EXPECT_EQ(wait_exit(rec.pid), 0) << recorder_err_ << rest;
    Run out;
    out.timeline = run({CONNRESET_BINARY, "report", dir, "--port", std::to_string(o.server_port)}).out;
    const Ran j = run({CONNRESET_BINARY, "report", "--json", dir});
    for (const auto& line : json_lines(j.out)) {
      if (line["type"] == "stats") {
        out.states_folded = line.value("states_folded", uint64_t{0});
        // journaled in the counters record and summed by report (its value is host-wide)
        EXPECT_TRUE(line.contains("close_unmatched") && line["close_unmatched"].is_number_unsigned()) << line;
      }
    }
    return out;
  };
  const Run quiet = record_one(tmp_ + "/quiet", {});
  const Run all = record_one(tmp_ + "/all", {"--all"});
  // the client's connect() completing: SYN_SENT -> ESTABLISHED, implied by the data that follows
  EXPECT_EQ(quiet.timeline.find("SYN_SENT -> ESTABLISHED"), std::string::npos) << quiet.timeline;
  EXPECT_NE(all.timeline.find("SYN_SENT -> ESTABLISHED"), std::string::npos) << all.timeline;
  EXPECT_NE(all.timeline.find("connect()"), std::string::npos) << all.timeline;
  EXPECT_GT(quiet.states_folded, 0u);
  EXPECT_EQ(all.states_folded, 0u);
}

TEST_F(RecordReport, SighupRotates_SigtermExitsZeroAndEndsTheJournalCleanly) {
  const std::string dir = tmp_ + "/journal";
  Proc rec = start_recorder(dir, {"--metrics", "127.0.0.1:0"});
  const std::regex addr_re("metrics at http://127\\.0\\.0\\.1:(\\d+)/metrics");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(recorder_err_, m, addr_re)) << recorder_err_;
  const auto metrics_port = static_cast<uint16_t>(std::stoi(m[1].str()));

  const ScenarioOutcome before = run_unread_data_at_close();
  ASSERT_TRUE(before.ok()) << before.error;
  ASSERT_TRUE(journaled(dir, before.server_port)) << "the first reset never reached the journal";
  kill(rec.pid, SIGHUP);
  ASSERT_TRUE(read_until(rec.err, recorder_err_, "SIGHUP: now writing", 5s)) << recorder_err_;
  const ScenarioOutcome after = run_unread_data_at_close();
  ASSERT_TRUE(after.ok()) << after.error;
  ASSERT_TRUE(journaled(dir, after.server_port)) << "the second reset never reached the journal";

  // Prometheus exposition, loopback; asked again until the live correlator has explained both
  auto scrape = [&] {
    const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(metrics_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string got;
    const std::string get = "GET /metrics HTTP/1.0\r\n\r\n";
    if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
        send(s, get.data(), get.size(), 0) == static_cast<ssize_t>(get.size())) {
      got = read_all(s);
    }
    close(s);
    return got;
  };
  std::string metrics;
  for (const auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(100ms)) {
    metrics = scrape();
    if (metrics.find("connreset_resets_total{cause=\"unread_data_at_close\"} 2") != std::string::npos) break;
  }
  // all of that from a recorder that is no longer root, has no capabilities and is seccomp-confined
  const std::string status = run({"cat", "/proc/" + std::to_string(rec.pid) + "/status"}).out;
  EXPECT_NE(status.find("Uid:\t65534\t65534\t65534\t65534"), std::string::npos) << status;
  EXPECT_NE(status.find("CapEff:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(status.find("Seccomp:\t2"), std::string::npos) << status;
  EXPECT_NE(metrics.find("200 OK"), std::string::npos);
  EXPECT_NE(metrics.find("connreset_resets_total{cause=\"unread_data_at_close\"} 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("connreset_resets_by_process_total{cause=\"unread_data_at_close\",comm=\"cr-server\",role=\"sender\"} 2"),
            std::string::npos) << metrics;
  EXPECT_NE(metrics.find("connreset_attach_plan_info{probe=\"reset_sent\""), std::string::npos);
  EXPECT_NE(metrics.find("connreset_events_lost_total 0"), std::string::npos);
  // host-wide counters (other tests may trace at the same time): present, whatever their value
  EXPECT_NE(metrics.find("\nconnreset_states_folded_total "), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nconnreset_close_unmatched_total "), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("connreset_connections_tracked"), std::string::npos);

  kill(rec.pid, SIGTERM);
  const std::string rest = read_all(rec.err);
  EXPECT_EQ(wait_exit(rec.pid), 0) << recorder_err_ << rest;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 2);

  const Ran r = run({CONNRESET_BINARY, "report", "--json", dir, "--html", tmp_ + "/report.html"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("no end record"), std::string::npos) << r.err;
  const auto lines = json_lines(r.out);
  EXPECT_FALSE(reset_on_port(lines, before.server_port).is_null()) << "reset in the first file";
  EXPECT_FALSE(reset_on_port(lines, after.server_port).is_null()) << "reset in the second file";
  EXPECT_EQ(mode_of(tmp_ + "/report.html"), 0600u);
  const Ran html = run({"cat", tmp_ + "/report.html"});
  EXPECT_NE(html.out.find("<svg"), std::string::npos);
  EXPECT_NE(html.out.find("unread_data_at_close"), std::string::npos);
  // the page of two real resets, in a real browser - on the host: the test VMs
  // (scripts/vmtest.sh, CONNRESET_DISPOSABLE_KERNEL=1) carry no python3 or Chromium, and the
  // page does not depend on the kernel; the VMs check the rest of this test.
  if (std::getenv("CONNRESET_DISPOSABLE_KERNEL") != nullptr) {
    std::printf("[ browser ] not in the test VM (no browser there); checked by the host's run\n");
    return;
  }
  const Ran browser = run({"python3", std::string(CONNRESET_SOURCE_DIR) + "/tests/browser/check_page.py",
                           tmp_ + "/report.html", std::string(CONNRESET_ARTIFACT_DIR) + "/record-report"});
  EXPECT_EQ(browser.code, 0) << browser.out << browser.err;
  std::printf("[ browser ] %s", browser.out.c_str());
}

// The HTML page in headless Chromium at 1280 px: a connection idle for a
// second between its request and its reset, so the scale has to be cut and
// labelled, and many resets, so only samples are shown. Synthetic journal
// (written like the recorder writes it), real binary, real browser.
TEST(ReportHtml, InABrowser_FitsTheWindowMarkersByTimeGapLabelled) {
  using namespace connreset::testing;
  TempDir dir;
  constexpr int64_t kWall = 1'764'000'000'000'000'000;
  const uint64_t t0 = 100'000 * kMs;
  std::vector<Event> evs;
  for (uint64_t i = 0; i < 40; ++i) {
    const uint64_t t = t0 + i * 3000 * kMs;
    const Conn client{2 * i + 1, ep(static_cast<uint16_t>(40000 + i)), ep(8080)};
    const Conn server{2 * i + 2, ep(8080), ep(static_cast<uint16_t>(40000 + i))};
    evs.push_back(state(t, client, task(500, "cr-client"), tcp::kClose, tcp::kSynSent));
    evs.push_back(state(t + 1 * kMs, client, task(500, "cr-client"), tcp::kSynSent, tcp::kEstablished));
    evs.push_back(call(t + 2 * kMs, client, task(500, "cr-client"), Call::Send, Phase::Data, 4096));
    evs.push_back(call(t + 3 * kMs, server, task(900, "cr-server"), Call::Recv, Phase::Data, 100));
    // a second later the server closes with the rest unread: RST
    evs.push_back(abort_on_close(t + 1004 * kMs, server, task(900, "cr-server"), 3996));
    evs.push_back(rst_received(t + 1004 * kMs + 40'000, client, task(0, "swapper/0")));
    evs.push_back(call(t + 1005 * kMs, client, task(500, "cr-client"), Call::Recv, Phase::Error, -ECONNRESET));
  }
  write_file(dir.file("connreset-00000001.journal"),
             journal_bytes(test_meta("web-1", kWall - static_cast<int64_t>(t0)), evs));
  const std::string page = dir.file("report.html");
  const Ran r = run({CONNRESET_BINARY, "report", dir.path(), "--html", page, "--html-per-cause", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  const Ran html = run({"cat", page});
  EXPECT_NE(html.out.find("30 more unread_data_at_close resets, not shown"), std::string::npos);
  const Ran browser = run({"python3", std::string(CONNRESET_SOURCE_DIR) + "/tests/browser/check_page.py", page,
                           std::string(CONNRESET_ARTIFACT_DIR) + "/report-html"});
  ASSERT_EQ(browser.code, 0) << browser.out << browser.err;
  const auto summary = nlohmann::json::parse(browser.out);
  EXPECT_EQ(summary["timelines"], 10);
  EXPECT_EQ(summary["failures"].size(), 0u);
  // the idle second is a cut in the scale, labelled with its length
  EXPECT_NE(summary["cuts"].dump().find("+1.00"), std::string::npos) << browser.out;
  EXPECT_TRUE(fs::exists(std::string(CONNRESET_ARTIFACT_DIR) + "/report-html/report-1280.png"));
  std::printf("[ browser ] %s", browser.out.c_str());
}

TEST(ReportCli, TimesBeyond2262_AreRefusedNotWrapped) {
  for (const char* t : {"9999999999", "2300-01-01T00:00:00Z"}) {
    for (const char* opt : {"--since", "--until"}) {
      const Ran r = run({CONNRESET_BINARY, "report", opt, t, "/nonexistent"});
      EXPECT_EQ(r.code, 2) << opt << " " << t << ": " << r.err;
      EXPECT_NE(r.err.find("before 2262"), std::string::npos) << r.err;
    }
  }
}

TEST_F(RecordReport, BadInputs_OneLineNamingFileAndOffset_NonZeroWhenNothingRead) {
  const std::string empty = tmp_ + "/empty", text = tmp_ + "/text";
  run({"touch", empty});
  run({"sh", "-c", "echo hello > " + text});
  Ran r = run({CONNRESET_BINARY, "report", empty});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(empty + ": offset 0: empty file"), std::string::npos) << r.err;
  r = run({CONNRESET_BINARY, "report", text, "/no/such/file"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(text + ": offset 0: not a connreset journal"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/no/such/file: offset 0: No such file"), std::string::npos) << r.err;
  run({"mkfifo", tmp_ + "/fifo"});
  r = run({CONNRESET_BINARY, "report", tmp_ + "/fifo"});  // must not block
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
}

// ---- two hosts: two network (and UTS) namespaces joined by a veth pair ----------

constexpr const char* kNsA = "cr-e2e-a";
constexpr const char* kNsB = "cr-e2e-b";
constexpr const char* kAddrB = "10.77.0.2";
constexpr uint16_t kPortB = 18099;

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

void enter_named_netns(const char* name) {
  const int fd = open((std::string("/run/netns/") + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(90);
  close(fd);
}

// Host B's server: reads a little of what the client sent, then close()s with the rest unread.
pid_t fork_server_on_b(int ready_fd) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  enter_named_netns(kNsB);
  prctl(PR_SET_NAME, "cr-b-server");
  const int ls = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(kPortB);
  inet_pton(AF_INET, kAddrB, &sa.sin_addr);
  if (bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(ls, 4) != 0) _exit(91);
  if (write(ready_fd, "r", 1) != 1) _exit(92);
  const int c = accept(ls, nullptr, nullptr);
  char buf[100];
  if (recv(c, buf, sizeof(buf), MSG_WAITALL) != 100) _exit(93);
  usleep(300'000);  // the rest of the request arrives, unread
  close(c);
  _exit(0);
}

pid_t fork_client_on_a() {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  enter_named_netns(kNsA);
  prctl(PR_SET_NAME, "cr-a-client");
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(kPortB);
  inet_pton(AF_INET, kAddrB, &sa.sin_addr);
  if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) _exit(94);
  std::vector<char> req(5000, 'x');
  if (send(s, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) _exit(95);
  char buf[64];
  const ssize_t n = recv(s, buf, sizeof(buf), 0);
  _exit(n < 0 && errno == ECONNRESET ? 0 : 96);
}

class MultiHostRecord : public RecordReport {
 protected:
  void SetUp() override {
    RecordReport::SetUp();
    TearDownNamespaces();
    const std::string script = std::string("set -e; ip netns add ") + kNsA + "; ip netns add " + kNsB +
        "; ip -n " + kNsA + " link add cr-va type veth peer name cr-vb netns " + kNsB +
        "; ip -n " + kNsA + " addr add 10.77.0.1/24 dev cr-va; ip -n " + kNsB + " addr add " + kAddrB +
        "/24 dev cr-vb; ip -n " + kNsA + " link set cr-va up; ip -n " + kNsB + " link set cr-vb up" +
        "; ip -n " + kNsA + " link set lo up; ip -n " + kNsB + " link set lo up";
    ASSERT_EQ(sh(script), 0) << "could not build the two-namespace topology with iproute2";
  }
  void TearDown() override {
    TearDownNamespaces();
    RecordReport::TearDown();
  }
  static void TearDownNamespaces() {
    sh(std::string("ip netns del ") + kNsA + " 2>/dev/null; ip netns del " + kNsB + " 2>/dev/null");
  }

  // Each "host": its own network and UTS namespace (its own host name), its own recorder.
  Proc start_host_recorder(const char* ns, const std::string& host, const std::string& dir) {
    Proc p = spawn({"ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c",
                    "hostname " + host + " && exec " + CONNRESET_BINARY + " record --out " + dir +
                        " --probes " + family_name() + " --settle-ms 100 --netns /run/netns/" + ns});
    std::string err;
    EXPECT_TRUE(read_until(p.err, err, "journaling to", 20s)) << err;
    return p;
  }
};

TEST_F(MultiHostRecord, ResetSeenOnA_IsExplainedByTheCloseRecordedOnB) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string dir_a = tmp_ + "/host-a", dir_b = tmp_ + "/host-b";
  Proc rec_a = start_host_recorder(kNsA, "host-a", dir_a);
  Proc rec_b = start_host_recorder(kNsB, "host-b", dir_b);

  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t server = fork_server_on_b(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const pid_t client = fork_client_on_a();
  EXPECT_EQ(wait_exit(client), 0) << "the client did not get ECONNRESET";
  EXPECT_EQ(wait_exit(server), 0);
  EXPECT_TRUE(journaled(dir_a, kPortB)) << "host A's recorder never journaled the reset";
  EXPECT_TRUE(journaled(dir_b, kPortB)) << "host B's recorder never journaled the reset";
  kill(rec_a.pid, SIGTERM);
  kill(rec_b.pid, SIGTERM);
  EXPECT_EQ(wait_exit(rec_a.pid), 0);
  EXPECT_EQ(wait_exit(rec_b.pid), 0);

  // each journal alone: A knows only that an RST came in, B only that it sent one
  const Ran only_a = run({CONNRESET_BINARY, "report", "--json", dir_a});
  const nlohmann::json a_alone = reset_on_port(json_lines(only_a.out), kPortB);
  ASSERT_FALSE(a_alone.is_null()) << only_a.out << only_a.err;
  // A alone infers from its own socket: the peer reset during the exchange, no FIN first
  EXPECT_EQ(a_alone["cause"], "peer_aborted");
  EXPECT_EQ(a_alone["inferred"], true);
  EXPECT_EQ(a_alone["evidence"]["state"], "ESTABLISHED");
  EXPECT_TRUE(a_alone["sender"].is_null());

  const Ran both = run({CONNRESET_BINARY, "report", "--json", "--skew-ms", "500", dir_a, dir_b});
  EXPECT_EQ(both.code, 0) << both.err;
  const auto lines = json_lines(both.out);
  size_t hosts = 0;
  for (const auto& j : lines) hosts += j["type"] == "meta";
  EXPECT_EQ(hosts, 2u);
  const nlohmann::json merged = reset_on_port(lines, kPortB);
  ASSERT_FALSE(merged.is_null()) << both.out;
  EXPECT_EQ(merged["cause"], "unread_data_at_close") << "the sender's real cause replaces the inference";
  EXPECT_EQ(merged["inferred"], false);
  EXPECT_EQ(merged["receiver_host"], "host-a");
  EXPECT_EQ(merged["sender_host"], "host-b");
  EXPECT_EQ(merged["receiver"]["comm"], "cr-a-client");
  EXPECT_EQ(merged["sender"]["comm"], "cr-b-server");
  EXPECT_EQ(merged["unread_bytes"], 4900);
  EXPECT_EQ(merged["local"]["addr"], "10.77.0.1");
  EXPECT_EQ(merged["remote"]["addr"], kAddrB);
  std::printf("[ timing ] two-host record + report: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0).count()));
}

}  // namespace
}  // namespace connreset::e2e
