#pragma once
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "sinks/sink.h"

namespace connreset {

// -o text|json|columns (--json is -o json).
enum class OutputFormat { Text, Json, Columns };

std::optional<OutputFormat> parse_output_format(const std::string& name);
std::unique_ptr<Sink> make_output_sink(OutputFormat format, std::FILE* out);

// stdout into a file or a pipe: written at each Sink::flush (every poll) in as few write()s as a
// 1 MiB buffer allows. stdio's own buffer is st_blksize (4 KiB): in a reset storm that was a
// write() every ~3 JSON lines, 15% of `trace --json`'s CPU (perf, issue #14). A terminal keeps
// its line buffering. Call before anything is written to stdout.
void buffer_stdout_for_batches();

}  // namespace connreset
