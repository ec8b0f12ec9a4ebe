// Memory of connreset's user-space connection tables with many open
// connections: feeds the real Pipeline (decode -> correlate) the records of N
// open loopback connections (both ends: 2N sockets), as synthetic records,
// and reports the process's peak RSS. User space only; the kernel maps are
// sized by flags and measured by scripts/bench.sh with real connections.
//
//   conn_table_rss [--conns N] [--one-sided]   prints one JSON object
// --one-sided: only the server's socket of each connection (the peers are
// remote hosts), i.e. N sockets instead of 2N.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <span>
#include <string>

#include "pipeline/pipeline.h"
#include "synthetic_stream.h"

namespace {

// VmRSS / VmHWM in KiB from /proc/self/status
long status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t klen = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, klen, key) == 0 && line.size() > klen && line[klen] == ':') {
      return std::strtol(line.c_str() + klen + 1, nullptr, 10);
    }
  }
  return -1;
}

class NullSink : public connreset::Sink {
 public:
  void reset(const connreset::Explanation&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  uint32_t conns = 100'000;
  bool one_sided = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--conns") == 0 && i + 1 < argc) {
      conns = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (std::strcmp(argv[i], "--one-sided") == 0) {
      one_sided = true;
    }
  }
  const long rss_before = status_kib("VmRSS");
  NullSink sink;
  connreset::Pipeline p(connreset::CorrelatorOptions{}, connreset::Filter{}, {&sink});
  uint64_t records = 0;
  {
    // generate and feed in chunks so the synthetic records themselves do not count
    connreset::bench::StreamBuilder b;
    constexpr uint32_t kChunk = 1000;
    for (uint32_t i = 0; i < conns; i += kChunk) {
      b.records.clear();
      b.ts.clear();
      for (uint32_t j = i; j < std::min(conns, i + kChunk); ++j) {
        if (one_sided) {
          b.open_server_side(b.new_conn(j));
        } else {
          b.open(b.new_conn(j));
        }
      }
      for (size_t k = 0; k < b.records.size(); ++k) {
        p.on_record(std::span<const std::byte>(b.records[k]));
        if ((k & 255) == 255) p.tick(b.ts[k]);
      }
      records += b.records.size();
      b.records.shrink_to_fit();
    }
  }
  const connreset::RunStats st = p.stats();
  const long rss_after = status_kib("VmRSS");
  const long hwm = status_kib("VmHWM");
  std::printf(
      "{\"connections\":%u,\"sockets_per_connection\":%d,\"sockets_tracked\":%llu,\"sockets_evicted\":%llu,\"records\":%llu,"
      "\"rss_before_kib\":%ld,\"rss_kib\":%ld,\"peak_rss_kib\":%ld,\"bytes_per_socket\":%.0f}\n",
      conns, one_sided ? 1 : 2, static_cast<unsigned long long>(st.sockets_tracked),
      static_cast<unsigned long long>(st.sockets_evicted), static_cast<unsigned long long>(records),
      rss_before, rss_after, hwm,
      st.sockets_tracked ? static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(st.sockets_tracked) : 0.0);
  return 0;
}
