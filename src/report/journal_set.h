#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "journal/reader.h"

namespace connreset::report {

// One journal file whose header was read.
struct JournalFile {
  std::string path;
  std::unique_ptr<journal::MappedFile> file;
  journal::Meta meta;
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
