// connreset report: journals from one or more hosts, replayed through the
// same pipeline as live tracing, rendered as text, JSON lines or HTML.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "commands/commands.h"
#include "common/escape.h"
#include "report/journal_set.h"
#include "report/render.h"
#include "report/report_model.h"
#include "report/summary.h"

namespace connreset {
namespace {

int fail(const std::string& msg, int code) {
  std::fprintf(stderr, "connreset report: %s\n", escape_for_terminal(msg).c_str());
  return code;
}

// The page holds process names from the recorded hosts: 0600, like the journals.
bool write_private_file(const std::string& path, const std::string& text, std::string* error) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = path + ": " + std::strerror(errno);
      close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return close(fd) == 0;
}

}  // namespace

int run_report(const ReportArgs& args) {
  report::ReportOptions opt;
  opt.correlator.settle_ns = static_cast<uint64_t>(args.settle_ms) * 1'000'000;
  opt.correlator.pair_window_ns = static_cast<uint64_t>(args.skew_ms) * 1'000'000;
  if (args.pid) opt.filter.pid = args.pid;
  if (!args.comm.empty()) opt.filter.comm = args.comm;
  if (args.port) opt.filter.port = args.port;
  opt.narrow.causes = args.causes;
  if (!args.since.empty() && !(opt.narrow.since_wall_ns = report::parse_time(args.since))) {
    return fail("--since " + args.since + ": expected RFC 3339 UTC (2026-11-24T13:00:00Z) or Unix seconds", 2);
  }
  if (!args.until.empty() && !(opt.narrow.until_wall_ns = report::parse_time(args.until))) {
    return fail("--until " + args.until + ": expected RFC 3339 UTC (2026-11-24T13:00:00Z) or Unix seconds", 2);
  }

  const report::JournalSet set = report::open_journals(args.inputs);
  if (set.files_read == 0) {
    for (const std::string& p : set.problems) fail(p, 1);
    return fail("nothing could be read", 1);
  }
  const report::Report rep = report::build_report(set, opt);
  // problems go to stderr as one line each, whatever the output format
  for (const std::string& p : rep.problems) fail("warning: " + p, 0);

  if (!args.html.empty()) {
    std::string err;
    if (!write_private_file(args.html, report::render_html_report(rep), &err)) return fail(err, 1);
  }
  const std::string out = args.json ? report::render_json_report(rep) : report::render_text_report(rep);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace connreset
