#include "metrics/registry.h"

#include <cmath>
#include <cstdio>

namespace connreset::metrics {

std::string escape_label_value(const std::string& raw) {
  std::string out;
  for (char c : raw) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string s = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) s += ",";
    s += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
  }
  return s + "}";
}

std::string number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

}  // namespace

void Registry::describe(const std::string& name, Type type, const std::string& help) {
  std::lock_guard lock(mutex_);
  Family& f = families_[name];
  f.type = type;
  f.help = help;
}

Registry::Family& Registry::family(const std::string& name) { return families_[name]; }

std::string Registry::key_for(Family& f, const Labels& labels) const {
  std::string key = render_labels(labels);
  if (f.series.size() < kMaxSeries || f.series.count(key)) return key;
  Labels other = labels;
  for (auto& [k, v] : other) v = "_other";
  return render_labels(other);
}

void Registry::add(const std::string& name, const Labels& labels, double delta) {
  std::lock_guard lock(mutex_);
  Family& f = family(name);
  f.series[key_for(f, labels)] += delta;
}

void Registry::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  Family& f = family(name);
  f.series[key_for(f, labels)] = value;
}

std::string Registry::exposition() const {
  std::lock_guard lock(mutex_);
  std::string s;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) s += "# HELP " + name + " " + f.help + "\n";
    s += "# TYPE " + name + (f.type == Type::Counter ? " counter\n" : " gauge\n");
    for (const auto& [labels, value] : f.series) s += name + labels + " " + number(value) + "\n";
  }
  return s;
}

}  // namespace connreset::metrics
