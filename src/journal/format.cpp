#include "journal/format.h"

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace connreset::journal {
namespace {

constexpr std::string_view kFilePrefix = "connreset-";
constexpr std::string_view kFileSuffix = ".journal";

}  // namespace

void put_u16(std::vector<std::byte>& out, uint16_t v) {
  for (int i = 0; i < 2; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}
void put_u32(std::vector<std::byte>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}
void put_u64(std::vector<std::byte>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}
uint16_t get_u16(const std::byte* p) {
  return static_cast<uint16_t>(static_cast<uint16_t>(p[0]) | static_cast<uint16_t>(p[1]) << 8);
}
uint32_t get_u32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint32_t>(p[i]);
  return v;
}
uint64_t get_u64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}

std::string meta_to_text(const Meta& m) {
  nlohmann::json probes = nlohmann::json::array();
  for (const auto& [name, impl] : m.probes) probes.push_back({name, impl});
  const nlohmann::json j{{"host", m.host},
                         {"boot_id", m.boot_id},
                         {"kernel", m.kernel},
                         {"command", m.command},
                         {"realtime_minus_monotonic_ns", m.clock.realtime_minus_monotonic_ns},
                         {"created_wall_ns", m.created_wall_ns},
                         {"sequence", m.sequence},
                         {"record_size", m.record_size},
                         {"probes", probes}};
  // kernel strings may hold anything: replace what is not UTF-8 instead of throwing
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<Meta> meta_from_text(std::string_view text, std::string* error) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    *error = "header metadata is not a JSON object";
    return std::nullopt;
  }
  Meta m;
  try {
    m.host = j.at("host").get<std::string>();
    m.boot_id = j.value("boot_id", std::string());
    m.kernel = j.value("kernel", std::string());
    m.command = j.value("command", std::string());
    m.clock.realtime_minus_monotonic_ns = j.at("realtime_minus_monotonic_ns").get<int64_t>();
    m.created_wall_ns = j.value("created_wall_ns", int64_t{0});
    m.sequence = j.value("sequence", uint64_t{0});
    m.record_size = j.at("record_size").get<uint32_t>();
    if (j.contains("probes") && j["probes"].is_array()) {
      for (const auto& p : j["probes"]) {
        if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string()) {
          m.probes.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
        }
      }
    }
  } catch (const nlohmann::json::exception& e) {
    *error = std::string("header metadata: ") + e.what();
    return std::nullopt;
  }
  return m;
}

std::vector<std::byte> encode_header(const Meta& meta, uint16_t event_version) {
  const std::string text = meta_to_text(meta);
  std::vector<std::byte> out;
  for (char c : kMagic) out.push_back(static_cast<std::byte>(c));
  put_u16(out, kFormatVersion);
  put_u16(out, event_version);
  put_u32(out, static_cast<uint32_t>(text.size()));
  std::vector<std::byte> covered(out.begin() + 8, out.end());
  for (char c : text) covered.push_back(static_cast<std::byte>(c));
  put_u32(out, crc32(covered));
  out.insert(out.end(), covered.begin() + 8, covered.end());
  return out;
}

std::vector<std::byte> encode_record(RecordKind kind, std::span<const std::byte> payload) {
  std::vector<std::byte> out;
  out.reserve(kFrameSize + payload.size());
  append_record(out, kind, payload);
  return out;
}

void append_record(std::vector<std::byte>& out, RecordKind kind, std::span<const std::byte> payload) {
  put_u32(out, static_cast<uint32_t>(payload.size()));
  const std::byte kind_and_pad[4] = {static_cast<std::byte>(kind), {}, {}, {}};
  out.insert(out.end(), kind_and_pad, kind_and_pad + 4);
  put_u32(out, crc32(payload, crc32(kind_and_pad)));
  out.insert(out.end(), payload.begin(), payload.end());
}

std::vector<std::byte> encode_totals(const KernelTotals& t) {
  std::vector<std::byte> out;
  put_u64(out, t.events);
  put_u64(out, t.lost);
  put_u64(out, t.call_table_full);
  put_u64(out, t.states_folded);
  put_u64(out, t.close_unmatched);
  return out;
}

std::optional<KernelTotals> decode_totals(std::span<const std::byte> p) {
  if (p.size() < kTotalsSizeV1 || p.size() % 8 != 0) return std::nullopt;
  KernelTotals t{get_u64(p.data()), get_u64(p.data() + 8), get_u64(p.data() + 16)};
  if (p.size() >= kTotalsSizeV2) t.states_folded = get_u64(p.data() + 24);
  if (p.size() >= kTotalsSize) t.close_unmatched = get_u64(p.data() + 32);
  return t;
}

std::string file_name(uint64_t sequence) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "connreset-%08llu.journal",
                static_cast<unsigned long long>(sequence));
  return buf;
}

std::optional<uint64_t> sequence_of(std::string_view name) {
  if (!name.starts_with(kFilePrefix) || !name.ends_with(kFileSuffix)) return std::nullopt;
  const std::string_view digits =
      name.substr(kFilePrefix.size(), name.size() - kFilePrefix.size() - kFileSuffix.size());
  uint64_t seq = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
  return seq;
}

}  // namespace connreset::journal
