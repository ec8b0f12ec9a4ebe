#include "enrich/workload.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace connreset {
namespace {

bool is_hex_id(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// 8-4-4-4-12 hex digits; the systemd driver writes '_' for '-' (a '-' is its hierarchy separator)
std::optional<std::string> pod_uid(std::string_view s) {
  if (s.size() != 36) return std::nullopt;
  std::string uid(s);
  for (size_t i = 0; i < uid.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash) {
      if (uid[i] != '-' && uid[i] != '_') return std::nullopt;
      uid[i] = '-';
    } else if (!std::isxdigit(static_cast<unsigned char>(uid[i]))) {
      return std::nullopt;
    }
  }
  return uid;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// "<prefix><id>[.scope]" for the runtimes' own names; conmon (the monitor
// process next to a CRI-O or podman container) is not the container.
std::optional<ContainerRef> named_container(std::string_view c) {
  struct Prefix {
    std::string_view prefix, runtime;
  };
  static constexpr std::array<Prefix, 4> kPrefixes{{{"cri-containerd-", "containerd"},
                                                   {"crio-", "cri-o"},
                                                   {"docker-", "docker"},
                                                   {"libpod-", "podman"}}};
  if (ends_with(c, ".scope")) c.remove_suffix(6);
  for (const Prefix& p : kPrefixes) {
    if (c.substr(0, p.prefix.size()) != p.prefix) continue;
    const std::string_view id = c.substr(p.prefix.size());
    if (is_hex_id(id)) return ContainerRef{std::string(id), std::string(p.runtime), ""};
  }
  return std::nullopt;
}

}  // namespace

Workload parse_cgroup_path(std::string_view path) {
  Workload w;
  w.cgroup_path = std::string(path);
  const std::vector<std::string_view> parts = components(path);
  bool kubepods = false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string_view c = parts[i];
    if (c.find("kubepods") != std::string_view::npos) kubepods = true;
    // systemd driver: kubepods-besteffort-pod<uid>.slice, kubepods-pod<uid>.slice
    if (c.find("kubepods") != std::string_view::npos && ends_with(c, ".slice")) {
      if (const size_t p = c.rfind("-pod"); p != std::string_view::npos) {
        if (auto uid = pod_uid(c.substr(p + 4, c.size() - 6 - (p + 4)))) w.pod = PodRef{*uid, "", ""};
      }
    }
    // cgroupfs driver: kubepods/[burstable|besteffort/]pod<uid>
    if (kubepods && c.substr(0, 3) == "pod") {
      if (auto uid = pod_uid(c.substr(3))) w.pod = PodRef{*uid, "", ""};
    }
  }
  // the deepest component that names a container (podman nests "container" below its scope)
  for (size_t i = parts.size(); i-- > 0;) {
    if (auto ref = named_container(parts[i])) {
      w.container = std::move(ref);
      break;
    }
    if (is_hex_id(parts[i])) {
      // cgroupfs: bare ids; only the parent tells docker's own from a CRI runtime's
      const std::string_view parent = i > 0 ? parts[i - 1] : std::string_view{};
      w.container = ContainerRef{std::string(parts[i]), parent == "docker" ? "docker" : "", ""};
      break;
    }
  }
  return w;
}

std::string cgroup2_mount(std::string_view proc_mounts) {
  size_t i = 0;
  while (i < proc_mounts.size()) {
    size_t end = proc_mounts.find('\n', i);
    if (end == std::string_view::npos) end = proc_mounts.size();
    const std::string_view line = proc_mounts.substr(i, end - i);
    i = end + 1;
    // "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0"
    const size_t a = line.find(' ');
    if (a == std::string_view::npos) continue;
    const size_t b = line.find(' ', a + 1);
    if (b == std::string_view::npos) continue;
    const size_t c = line.find(' ', b + 1);
    if (line.substr(b + 1, c == std::string_view::npos ? std::string_view::npos : c - b - 1) != "cgroup2") continue;
    const std::string_view mount = line.substr(a + 1, b - a - 1);
    // /proc/mounts writes a space as "\040" (octal escapes)
    std::string out;
    for (size_t k = 0; k < mount.size(); ++k) {
      const bool octal = mount[k] == '\\' && k + 3 < mount.size() &&
                         std::all_of(mount.begin() + static_cast<long>(k) + 1, mount.begin() + static_cast<long>(k) + 4,
                                     [](char d) { return d >= '0' && d <= '7'; });
      if (octal) {
        out += static_cast<char>((mount[k + 1] - '0') * 64 + (mount[k + 2] - '0') * 8 + (mount[k + 3] - '0'));
        k += 3;
      } else {
        out += mount[k];
      }
    }
    return out;
  }
  return "";
}

std::string placing_cgroup_path(std::string_view text) {
  std::string v2, systemd, named, other;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find('\n', i);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(i, end - i);
    i = end + 1;
    // "hierarchy-id:controllers:path"; the path may itself hold ':'
    const size_t a = line.find(':');
    if (a == std::string_view::npos) continue;
    const size_t b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(a + 1, b - a - 1);
    const std::string_view path = line.substr(b + 1);
    if (line.substr(0, a) == "0" && controllers.empty()) {
      v2 = path;
      continue;
    }
    if (path.empty() || path == "/") continue;
    if (named.empty() && parse_cgroup_path(path).in_container()) named = path;
    if (controllers == "name=systemd") systemd = path;
    if (other.empty()) other = path;
  }
  if (!v2.empty() && v2 != "/") return v2;
  if (!named.empty()) return named;
  if (!systemd.empty()) return systemd;
  if (!other.empty()) return other;
  return "/";
}

}  // namespace connreset
