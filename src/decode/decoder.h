#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "decode/event.h"

namespace connreset {

// Raw ring-buffer / journal record -> Event. Rejects records of the wrong
// size or with out-of-range enums instead of guessing.
struct DecodeError {
  std::string message;
};

class Decoder {
 public:
  static constexpr size_t kRecordSize = 176;  // sizeof(struct cr_event), checked in decoder.cpp and bpf/connreset.h
  // Version 1 records (connreset 0.1 journals): the same layout up to comm,
  // without the remote-peer evidence; decoded with that evidence absent.
  static constexpr size_t kRecordSizeV1 = 136;
  static constexpr uint16_t kVersionV1 = 1;
  // Version 2: this layout; its later builds' records may already carry a put-off connect()
  // or FIN, read as version 3's (the bits are zero where they do not).
  static constexpr uint16_t kVersionV2 = 2;

  // The record size of a known event version, 0 for an unknown one.
  static size_t record_size(uint16_t event_version);

  // Returns the event, or nullopt with *error set.
  std::optional<Event> decode(std::span<const std::byte> raw, DecodeError* error) const;
  // The same into ev, every field overwritten (a report decodes millions into one slot);
  // false with *error set (ev then holds nothing useful).
  bool decode(std::span<const std::byte> raw, Event& ev, DecodeError* error) const;

  // What decode() checks, without building an Event: a record of this build's size
  // (kRecordSize) with in-range enums, and its network namespace. For `record` without live
  // outputs, which journals the raw bytes: the Event it built and dropped was ~15-19% of its
  // CPU in a storm's profile. Any other size: false, decode() it instead.
  static bool check(std::span<const std::byte> raw, uint32_t* netns, DecodeError* error);

  // The inverse, for journals and tests: Event -> raw record bytes.
  static void encode(const Event& ev, std::span<std::byte, kRecordSize> out);
};

}  // namespace connreset
