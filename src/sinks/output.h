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

}  // namespace connreset
