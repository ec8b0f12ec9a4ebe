#include "report/journal_set.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "journal/reader.h"

namespace connreset::report {
namespace fs = std::filesystem;

namespace {

// A directory stands for its journal files, in name (= sequence) order.
std::vector<std::string> expand(const std::string& path, std::vector<std::string>& problems) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return {path};
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (journal::sequence_of(e.path().filename().string())) out.push_back(e.path().string());
  }
  if (ec) problems.push_back(path + ": offset 0: cannot list directory: " + ec.message());
  if (out.empty() && !ec) problems.push_back(path + ": offset 0: no connreset-*.journal files in directory");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

JournalSet open_journals(const std::vector<std::string>& paths) {
  JournalSet set;
  std::set<std::pair<uint64_t, uint64_t>> seen;
  std::map<std::string, size_t> source_index;
  for (const std::string& arg : paths) {
    for (const std::string& path : expand(arg, set.problems)) {
      std::string err;
      auto file = journal::FileSource::open(path, &err);
      if (!file) {
        set.problems.push_back(path + ": offset 0: " + err);
        ++set.files_failed;
        continue;
      }
      if (!seen.emplace(file->device(), file->inode()).second) continue;
      journal::Reader reader(*file, path, 4096);  // the header only
      if (!reader.read_header()) {
        set.problems.push_back(reader.error()->line());
        ++set.files_failed;
        continue;
      }
      ++set.files_read;
      const journal::Meta& m = reader.meta();
      // cookies are unique per kernel boot; the host name tells apart recorders
      // sharing a kernel (containers) that journal their own namespaces
      const std::string key = m.boot_id + "/" + m.host;
      auto [it, fresh] = source_index.emplace(key, set.sources.size());
      if (fresh) set.sources.push_back(Source{key, m.host, {}});
      JournalFile jf{path, file->device(), file->inode(), file->size_at_open(), m};
      if (!fresh) {  // only the first file's plan is shown: do not keep 70,000 copies
        jf.meta.probes.clear();
        jf.meta.probes.shrink_to_fit();
        jf.meta.command.clear();
      }
      set.sources[it->second].files.push_back(std::move(jf));
    }
  }
  for (Source& s : set.sources) {
    std::stable_sort(s.files.begin(), s.files.end(), [](const JournalFile& a, const JournalFile& b) {
      return a.meta.sequence != b.meta.sequence ? a.meta.sequence < b.meta.sequence
                                                : a.meta.created_wall_ns < b.meta.created_wall_ns;
    });
  }
  // the same host name for two boots: tell them apart
  std::map<std::string, int> label_count;
  for (const Source& s : set.sources) ++label_count[s.label];
  for (Source& s : set.sources) {
    if (label_count[s.label] > 1) s.label += " (boot " + s.key.substr(0, std::min<size_t>(8, s.key.find('/'))) + ")";
  }
  return set;
}

}  // namespace connreset::report
