#include "run/ci_output.h"

#include <cstdio>
#include <ctime>

#include "common/escape.h"
#include "explain/causes.h"
#include "explain/explainer.h"
#include "sinks/text_sink.h"

namespace connreset {
namespace {

// the one place that turns an explanation's cause into its catalog id
std::string cause_of(const Explanation& x) { return std::string(cause_id(x.cause)); }

std::string valid_items() {
  std::string s = "any, findings";
  for (const auto& c : cause_catalog()) s += ", " + std::string(c.id);
  return s;
}

std::string finding_key(const Finding& f) {
  return f.kind + "|" + std::to_string(f.task.pid) + "|" + std::to_string(f.task.tid) + "|" +
         std::to_string(f.netns) + "|" + f.local.str() + "|" + f.remote.str() + "|" + f.call;
}

std::string reset_title(const Explanation& x) {
  const ResetCase& c = x.reset;
  std::string s = cause_of(x) + " " + c.local.str() + " <- " + c.remote.str();
  if (c.closer) {
    s += ", closed by " + task_label(c.closer->task);
  } else if (c.sender) {
    s += ", sent by " + task_label(*c.sender);
  }
  if (c.receiver) s += ", received by " + task_label(*c.receiver);
  return s;
}

std::string finding_title(const Finding& f) {
  return f.kind + " " + task_label(f.task) + " " + f.local.str() + " <-> " + f.remote.str();
}

std::string iso8601(uint64_t wall_ns) {
  const time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &t);
  return buf;
}

void testcase(std::string& out, const std::string& classname, const std::string& name, const std::string& text,
              bool failed, const std::string& type, const std::string& message) {
  out += "    <testcase classname=\"" + xml_escape(classname) + "\" name=\"" + xml_escape(name) +
         "\" time=\"0\">\n";
  if (failed) {
    out += "      <failure type=\"" + xml_escape(type) + "\" message=\"" + xml_escape(message) + "\">" +
           xml_escape(text) + "</failure>\n";
  } else {
    out += "      <system-out>" + xml_escape(text) + "</system-out>\n";
  }
  out += "    </testcase>\n";
}

}  // namespace

bool FailOn::matches(const Explanation& x) const { return any || causes.count(cause_of(x)) > 0; }
bool FailOn::matches(const Finding&) const { return any || findings; }

std::optional<FailOn> parse_fail_on(std::string_view spec, std::string* error) {
  FailOn out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string item(spec.substr(start, comma - start));
    start = comma + 1;
    if (item == "any") {
      out.any = true;
    } else if (item == "findings") {
      out.findings = true;
    } else {
      bool known = false;
      for (const auto& c : cause_catalog()) known |= c.id == item;
      if (!known) {
        *error = "--fail-on: unknown item '" + escape_for_terminal(item) + "' (expected any, findings or "
                 "cause ids, comma-separated: " + valid_items() + ")";
        return std::nullopt;
      }
      out.causes.insert(item);
    }
  }
  return out;
}

void RunCollector::finding(const Finding& f) {
  const std::string key = finding_key(f);
  if (auto it = finding_index_.find(key); it != finding_index_.end()) {
    findings_[it->second] = f;  // a later report of the same loop: higher count
    return;
  }
  finding_index_.emplace(key, findings_.size());
  findings_.push_back(f);
}

std::vector<Finding> RunCollector::findings() const { return findings_; }

std::string junit_xml(const RunCollector& run, const RunOutcome& outcome, const FailOn& fail_on) {
  const ClockMap& clock = run.info().clock;
  std::string cases;
  size_t tests = 0, failures = 0;
  for (const Explanation& x : run.resets()) {
    const bool failed = fail_on.matches(x);
    testcase(cases, "connreset.reset." + cause_of(x), reset_title(x), render_text(x, clock), failed, cause_of(x),
             x.because);
    ++tests;
    failures += failed;
  }
  for (const Finding& f : run.findings()) {
    const bool failed = fail_on.matches(f);
    testcase(cases, "connreset.finding." + f.kind, finding_title(f), render_text(f, clock), failed, f.kind,
             f.call + "() kept being called after it returned " + f.after);
    ++tests;
    failures += failed;
  }
  if (tests == 0) {
    testcase(cases, "connreset.run", "no connection resets", "the command's process tree caused no TCP reset "
             "and no finding", false, "", "");
    tests = 1;
  }
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.3f", outcome.seconds);
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += "<testsuites name=\"connreset\" tests=\"" + std::to_string(tests) + "\" failures=\"" +
         std::to_string(failures) + "\" errors=\"0\" time=\"" + secs + "\">\n";
  xml += "  <testsuite name=\"connreset run: " + xml_escape(outcome.command) + "\" tests=\"" +
         std::to_string(tests) + "\" failures=\"" + std::to_string(failures) +
         "\" errors=\"0\" skipped=\"0\" time=\"" + secs + "\" timestamp=\"" + iso8601(outcome.wall_start_ns) +
         "\" hostname=\"" + xml_escape(run.info().hostname) + "\">\n";
  xml += "    <properties>\n";
  auto prop = [&](const std::string& name, const std::string& value) {
    xml += "      <property name=\"" + name + "\" value=\"" + xml_escape(value) + "\"/>\n";
  };
  prop("command", outcome.command);
  prop("exit_code", std::to_string(outcome.cmd_exit));
  prop("processes", std::to_string(outcome.processes));
  prop("kernel", run.info().kernel);
  prop("events_lost", std::to_string(run.stats().lost));
  xml += "    </properties>\n";
  xml += cases;
  xml += "  </testsuite>\n</testsuites>\n";
  return xml;
}

std::string github_annotations(const RunCollector& run, const FailOn& fail_on) {
  std::string out;
  auto line = [&](bool error, const std::string& title, const std::string& message) {
    out += std::string(error ? "::error" : "::warning") + " title=" + gha_escape_property(title) +
           "::" + gha_escape_data(message) + "\n";
  };
  const ClockMap& clock = run.info().clock;
  for (const Explanation& x : run.resets()) {
    line(fail_on.matches(x), "connreset: " + cause_of(x), render_text(x, clock));
  }
  for (const Finding& f : run.findings()) {
    line(fail_on.matches(f), "connreset: " + f.kind, render_text(f, clock));
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '&': out += "&amp;"; continue;
      case '<': out += "&lt;"; continue;
      case '>': out += "&gt;"; continue;
      case '"': out += "&quot;"; continue;
      case '\'': out += "&apos;"; continue;
      case '\n': case '\t': out += static_cast<char>(c); continue;
      default: break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      continue;
    }
    // everything else (controls, bytes >= 0x7f: kernel strings are not
    // promised to be UTF-8) as visible text
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\x%02x", c);
    out += buf;
  }
  return out;
}

std::string gha_escape_data(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else out += c;
  }
  while (out.size() >= 3 && out.compare(out.size() - 3, 3, "%0A") == 0) out.resize(out.size() - 3);
  return out;
}

std::string gha_escape_property(std::string_view s) {
  std::string out;
  for (char c : gha_escape_data(s)) {
    if (c == ':') out += "%3A";
    else if (c == ',') out += "%2C";
    else out += c;
  }
  return out;
}

}  // namespace connreset
