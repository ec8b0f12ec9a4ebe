#include "explain/causes.h"

#include <ostream>
#include <stdexcept>

namespace connreset {
namespace {

constexpr std::array<CauseInfo, kCauseCount> kCatalog = {{
#define CONNRESET_CAUSE_ROW(e, id, inferred, meaning, path, advice) \
  {Cause::e, id, inferred, meaning, path, advice},
    CONNRESET_CAUSES(CONNRESET_CAUSE_ROW)
#undef CONNRESET_CAUSE_ROW
}};

constexpr bool is_id(std::string_view id) {
  if (id.empty()) return false;
  for (char ch : id) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

// The catalog holds itself together: rows in enum order, every text present,
// ids unique and usable as metric label values and file names.
constexpr bool catalog_is_whole() {
  for (size_t i = 0; i < kCatalog.size(); ++i) {
    const CauseInfo& c = kCatalog[i];
    if (static_cast<size_t>(c.cause) != i) return false;
    if (!is_id(c.id) || c.meaning.empty() || c.kernel_path.empty() || c.advice.empty()) return false;
    for (size_t j = 0; j < i; ++j) {
      if (kCatalog[j].id == c.id) return false;
    }
  }
  return true;
}
static_assert(catalog_is_whole(), "cause catalog: a row lacks a text or an id is malformed/duplicate");

}  // namespace

const std::array<CauseInfo, kCauseCount>& cause_catalog() { return kCatalog; }

const CauseInfo& cause_info(Cause c) { return kCatalog.at(static_cast<size_t>(c)); }

std::string_view cause_id(Cause c) { return cause_info(c).id; }

std::optional<Cause> cause_from_id(std::string_view id) {
  for (const CauseInfo& c : kCatalog) {
    if (c.id == id) return c.cause;
  }
  return std::nullopt;
}

Cause parse_cause(std::string_view id) {
  if (auto c = cause_from_id(id)) return *c;
  throw std::invalid_argument("unknown cause '" + std::string(id) + "'; valid causes: " + cause_ids());
}

std::string cause_ids(std::string_view separator) {
  std::string out;
  for (const CauseInfo& c : kCatalog) {
    if (!out.empty()) out += separator;
    out += c.id;
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, Cause c) { return os << cause_id(c); }

}  // namespace connreset
