#include "sinks/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinks/columns_sink.h"
#include "sinks/json_sink.h"
#include "sinks/text_sink.h"

namespace connreset {

std::optional<OutputFormat> parse_output_format(const std::string& name) {
  if (name == "text") return OutputFormat::Text;
  if (name == "json") return OutputFormat::Json;
  if (name == "columns") return OutputFormat::Columns;
  return std::nullopt;
}

std::unique_ptr<Sink> make_output_sink(OutputFormat format, std::FILE* out) {
  switch (format) {
    case OutputFormat::Json: return std::make_unique<JsonSink>(out);
    case OutputFormat::Columns: return std::make_unique<ColumnsSink>(out);
    case OutputFormat::Text: break;
  }
  return std::make_unique<TextSink>(out);
}

void buffer_stdout_for_batches() {
  if (isatty(STDOUT_FILENO)) return;
  // A pipe holds 64 KiB by default: a storm's megabytes per poll then cost a write() and a
  // wake-up of the reader every ~50 JSON lines. 1 MiB is what an unprivileged process may ask
  // for (fs.pipe-max-size); refused or not a pipe, nothing changes.
  struct stat st {};
  if (fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode)) (void)fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
  static char buffer[1 << 20];  // stdout's for the rest of the process: never freed
  std::setvbuf(stdout, buffer, _IOFBF, sizeof(buffer));
}

}  // namespace connreset
