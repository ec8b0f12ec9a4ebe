#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace connreset::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Counters and gauges with labels, rendered in the Prometheus text exposition
// format (version 0.0.4). Written by the tracing thread, read by the HTTP one.
class Registry {
 public:
  enum class Type { Counter, Gauge };
  void describe(const std::string& name, Type type, const std::string& help);
  void add(const std::string& name, const Labels& labels, double delta = 1);
  void set(const std::string& name, const Labels& labels, double value);
  std::string exposition() const;

  // A new label set beyond this many per metric goes to {…="_other"}: kernel
  // strings (process names) must not grow memory without bound.
  static constexpr size_t kMaxSeries = 500;

 private:
  struct Family {
    Type type = Type::Counter;
    std::string help;
    std::map<std::string, double> series;  // rendered label set -> value
  };
  Family& family(const std::string& name);
  std::string key_for(Family& f, const Labels& labels) const;

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// Label value escaping of the exposition format: backslash, quote, newline.
std::string escape_label_value(const std::string& raw);

}  // namespace connreset::metrics
