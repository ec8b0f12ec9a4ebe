#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace connreset::journal {

// On-disk layout of a journal file (all integers little-endian):
//
//   file   := header record*
//   header := magic "CRJRNL\r\n" (8) | u16 format_version | u16 event_version
//             | u32 meta_len | u32 crc32(format_version..meta) | meta (JSON, meta_len bytes)
//   record := u32 payload_len | u8 kind | u8[3] zero | u32 crc32(kind, zero, payload) | payload
//
// A record is written with one write() call, so a recorder killed at any
// moment leaves at most one torn record at the end, which the reader detects
// (short frame or bad checksum) and stops at, keeping everything before it.
inline constexpr char kMagic[8] = {'C', 'R', 'J', 'R', 'N', 'L', '\r', '\n'};
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kHeaderFixedSize = 8 + 2 + 2 + 4 + 4;
inline constexpr size_t kMaxMetaSize = 64 * 1024;
inline constexpr size_t kFrameSize = 4 + 4 + 4;
inline constexpr size_t kMaxPayloadSize = 64 * 1024;

enum class RecordKind : uint8_t {
  // payload: one struct cr_event (bpf/connreset.h) of the header's event_version,
  // byte for byte as the kernel wrote it (0.1 wrote the decoder's re-encoding of
  // it: the same layout and version, read the same way)
  Event = 1,
  // payload: u64 events, u64 lost, u64 call_table_full, u64 states_folded, u64 close_unmatched
  // (kernel totals so far; journals before states_folded end after call_table_full, those
  // before close_unmatched after states_folded). Readers take the fields they know and
  // ignore any that later versions append.
  Counters = 2,
  End = 3,       // empty: the recorder stopped cleanly after this file
};

// What the header says about the host and the run that wrote the file.
struct Meta {
  std::string host;
  std::string boot_id;  // /proc/sys/kernel/random/boot_id: cookies are unique per boot
  std::string kernel;
  std::string command;
  ClockMap clock;          // monotonic -> wall time, taken when the file was opened
  int64_t created_wall_ns = 0;
  uint64_t sequence = 0;   // file number within the journal directory
  uint32_t record_size = 0;
  std::vector<std::pair<std::string, std::string>> probes;  // attach plan
};

struct KernelTotals {
  uint64_t events = 0;
  uint64_t lost = 0;
  uint64_t call_table_full = 0;
  uint64_t states_folded = 0;
  uint64_t close_unmatched = 0;
  bool operator==(const KernelTotals&) const = default;
};
inline constexpr size_t kTotalsSizeV1 = 24;  // without states_folded
inline constexpr size_t kTotalsSizeV2 = 32;  // without close_unmatched
inline constexpr size_t kTotalsSize = 40;
// the longest counters payload a resynchronizing reader accepts (fields appended later included)
inline constexpr size_t kTotalsSizeMax = 128;

// CRC-32 as zlib computes it (crc32.cpp); chained: crc32(b, crc32(a)) == crc32(a + b).
// crc32_portable: the same without the CPU's carry-less multiply (tests compare the two).
uint32_t crc32(std::span<const std::byte> data, uint32_t crc = 0);
uint32_t crc32_portable(std::span<const std::byte> data, uint32_t crc = 0);

std::vector<std::byte> encode_header(const Meta& meta, uint16_t event_version);
std::vector<std::byte> encode_record(RecordKind kind, std::span<const std::byte> payload);
// The same, appended to out (the writer's batch: no allocation per record).
void append_record(std::vector<std::byte>& out, RecordKind kind, std::span<const std::byte> payload);
std::vector<std::byte> encode_totals(const KernelTotals& t);
std::optional<KernelTotals> decode_totals(std::span<const std::byte> payload);

// Meta <-> the header's JSON text. Parsing rejects what is not a JSON object
// with the required fields (returns nullopt with *error set).
std::string meta_to_text(const Meta& meta);
std::optional<Meta> meta_from_text(std::string_view text, std::string* error);

void put_u16(std::vector<std::byte>& out, uint16_t v);
void put_u32(std::vector<std::byte>& out, uint32_t v);
void put_u64(std::vector<std::byte>& out, uint64_t v);
uint16_t get_u16(const std::byte* p);
uint32_t get_u32(const std::byte* p);
uint64_t get_u64(const std::byte* p);

// Files of a journal directory are named like this, in sequence order.
std::string file_name(uint64_t sequence);  // "connreset-00000001.journal"
std::optional<uint64_t> sequence_of(std::string_view file_name);

}  // namespace connreset::journal
