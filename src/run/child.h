#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace connreset {

// Who CMD runs as. Under sudo, root is only needed for the probes: CMD runs
// as the invoking user (SUDO_UID/SUDO_GID), like the build would without
// connreset; --user picks another (a name or a number; "root" keeps root).
struct RunAs {
  bool change = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups (from the user database)
  std::string label;          // "alice (uid 1000)" for messages
};

// "" or what is wrong with --user (user_arg "" = the sudo default).
std::string resolve_run_as(const std::string& user_arg, RunAs* out);

// CMD as a child process: forked held (blocked before exec) so its pid can
// join the traced tree before it runs anything, then released.
class Child {
 public:
  // "" or why it could not be forked.
  std::string fork_held(const std::vector<std::string>& argv, const RunAs& as);
  // Lets the child exec. "" when exec succeeded; else the error, and
  // *exit_code is 127 (not found) or 126 (found, not executable).
  std::string release(int* exit_code);
  pid_t pid() const { return pid_; }
  // Without blocking: CMD's exit code once it has ended (128+N when killed by
  // signal N, as shells report it), reaping it.
  std::optional<int> poll_exit();
  // Kills and reaps a held or running child (connreset itself failed).
  void abandon();

 private:
  pid_t pid_ = -1;
  int go_fd_ = -1;   // write end: one byte lets the child exec
  int err_fd_ = -1;  // read end: the child's errno if exec failed; EOF (close-on-exec) if it worked
};

// SIGINT/SIGTERM sent to connreset go to CMD (unless the terminal already
// sent them to CMD's process group). Counts every such signal.
void forward_signals_to(pid_t pid);
unsigned signals_received();

}  // namespace connreset
