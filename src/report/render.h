#pragma once
#include <string>

#include "report/report_model.h"

namespace connreset::report {

// JSON lines: a meta object per host, one reset object per reset (the same
// objects as trace --json, plus receiver_host/sender_host), warnings, stats.
std::string render_json_report(const Report& rep);

// One self-contained HTML page (no scripts, no network): summary tables and,
// per connection, an SVG timeline of both ends. Every kernel string is HTML-escaped.
std::string render_html_report(const Report& rep);

std::string html_escape(std::string_view raw);

}  // namespace connreset::report
