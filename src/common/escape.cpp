#include "common/escape.h"

#include <algorithm>
#include <array>

namespace connreset {

std::string escape_for_terminal(std::string_view raw) {
  std::string out;
  append_escaped_for_terminal(out, raw);
  return out;
}

void append_escaped_for_terminal(std::string& out, std::string_view raw) {
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  // nearly every string (process and host names, addresses) is plain: copied whole, where a
  // byte-by-byte append showed in a report's profile
  if (std::all_of(raw.begin(), raw.end(), [](char ch) {
        const auto byte = static_cast<unsigned char>(ch);
        return byte >= 0x20 && byte < 0x7f && ch != '\\';
      })) {
    out.append(raw);
    return;
  }
  out.reserve(out.size() + raw.size());
  for (char ch : raw) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '\\') {
      out += "\\\\";
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
}

}  // namespace connreset
