#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "report/report_model.h"

namespace connreset::report {

Summary summarize(const std::vector<ConnectionReport>& resets);

// Text or JSON as it is produced: to a stdio stream (large writes, no
// per-item flush) or to a string (tests).
class Output {
 public:
  explicit Output(std::FILE* f) : file_(f) {}
  explicit Output(std::string* s) : str_(s) {}
  ~Output() { flush(); }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  void put(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= (1u << 16)) flush();
  }
  void flush();
  bool failed() const { return failed_; }

 private:
  std::FILE* file_ = nullptr;
  std::string* str_ = nullptr;
  std::string buf_;
  bool failed_ = false;
};

// The plain-text report, streamed: the hosts, each reset explained with its
// connection's timeline as it settles, then the problems, the summary tables
// (from counters) and the totals.
class TextReportWriter : public ReportWriter {
 public:
  explicit TextReportWriter(Output& out) : out_(out) {}
  void begin(const ReportHeader& h) override;
  void reset(const ConnectionReport& c) override;
  void finding(const Finding& f) override;
  void end(const ReportEnd& e) override;

 private:
  Output& out_;
  std::string scratch_;
};

std::string render_text_report(const Report& rep);

}  // namespace connreset::report
