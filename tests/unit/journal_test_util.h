#pragma once
// Helpers for the journal and report tests: a temporary directory and
// journals written in memory or on disk from synthetic events.
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "connreset.h"
#include "decode/decoder.h"
#include "journal/format.h"

namespace connreset::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "connreset-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline journal::Meta test_meta(const std::string& host = "host-a", int64_t offset = 0) {
  journal::Meta m;
  m.host = host;
  m.boot_id = host + "-boot";
  m.kernel = "6.18.0-test";
  m.command = "record";
  m.clock.realtime_minus_monotonic_ns = offset;
  m.record_size = Decoder::kRecordSize;
  m.probes = {{"reset_sent", "tp_btf/tcp_send_reset"}};
  return m;
}

inline std::vector<std::byte> raw_event(const Event& ev) {
  std::array<std::byte, Decoder::kRecordSize> raw{};
  Decoder::encode(ev, raw);
  return {raw.begin(), raw.end()};
}

// A whole journal file's bytes, as the Writer would produce them.
inline std::vector<std::byte> journal_bytes(const journal::Meta& meta, const std::vector<Event>& events,
                                            bool end_record = true) {
  std::vector<std::byte> out = journal::encode_header(meta, CR_EVENT_VERSION);
  for (const Event& e : events) {
    auto rec = journal::encode_record(journal::RecordKind::Event, raw_event(e));
    out.insert(out.end(), rec.begin(), rec.end());
  }
  if (end_record) {
    auto rec = journal::encode_record(journal::RecordKind::End, {});
    out.insert(out.end(), rec.begin(), rec.end());
  }
  return out;
}

inline void write_file(const std::string& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace connreset::testing
