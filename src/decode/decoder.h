#pragma once
#include <cstddef>
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

  // Returns the event, or nullopt with *error set.
  std::optional<Event> decode(std::span<const std::byte> raw, DecodeError* error) const;

  // The inverse, for journals and tests: Event -> raw record bytes.
  static void encode(const Event& ev, std::span<std::byte, kRecordSize> out);
};

}  // namespace connreset
