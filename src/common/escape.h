#pragma once
#include <string>
#include <string_view>

namespace connreset {

// Process names and other strings from the kernel can hold terminal escape
// sequences; everything printed to a terminal goes through this first.
// Printable ASCII passes, backslash doubles, everything else becomes \xNN.
std::string escape_for_terminal(std::string_view raw);
// The same, appended to out (no temporary: sentences built per reset in a storm)
void append_escaped_for_terminal(std::string& out, std::string_view raw);

}  // namespace connreset
