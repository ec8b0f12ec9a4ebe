#pragma once
#include <string_view>
#include <vector>

namespace connreset {

// The cause catalog (../DESIGN.md): ids are a stable interface (JSON `cause`).
struct CauseInfo {
  std::string_view id;
  std::string_view meaning;      // short, for tables and docs
  std::string_view kernel_path;  // how the kernel sends this RST
  std::string_view advice;       // what to change
};

const std::vector<CauseInfo>& cause_catalog();
// The entry for id; throws std::out_of_range for an unknown id (a programming error).
const CauseInfo& cause_info(std::string_view id);

}  // namespace connreset
