#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "journal/format.h"

namespace connreset::report {

// One journal file whose header was read. Nothing stays open or mapped: the
// file is opened again when its turn comes, so a directory of 70,000 files
// costs a header's worth of memory per file, not a mapping or a descriptor.
struct JournalFile {
  std::string path;
  uint64_t device = 0, inode = 0;
  uint64_t size = 0;  // at listing time
  journal::Meta meta;  // the attach plan and command are kept for a source's first file only
};

// The files one host wrote during one boot: cookies are unique only within
// it, and its files are read in sequence order (the kernel's order).
struct Source {
  std::string key;    // "boot id/host name"
  std::string label;  // what people call it: the host name
  std::vector<JournalFile> files;
};

struct JournalSet {
  std::vector<Source> sources;
  std::vector<std::string> problems;  // one line each: "FILE: offset N: why"
  size_t files_read = 0;               // headers read
  size_t files_failed = 0;             // nothing could be read
};

// Files and directories (their connreset-*.journal files) -> sources. A file
// named twice (directly and through its directory) is read once.
JournalSet open_journals(const std::vector<std::string>& paths);

}  // namespace connreset::report
