#pragma once
// Running the connreset binary (or any program) as a user would, for e2e tests.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace connreset::e2e {

struct Proc {
  pid_t pid = -1;
  int out = -1;  // its stdout
  int err = -1;  // its stderr
};

// fork + execvp with stdout/stderr on pipes; pid -1 on failure.
Proc spawn(const std::vector<std::string>& args);
// One line from fd, waiting up to timeout; "" at EOF or timeout. buffer keeps the rest.
std::string read_line(int fd, std::string& buffer, std::chrono::milliseconds timeout);
std::string read_all(int fd);  // until EOF
int wait_exit(pid_t pid);      // exit code, or 128 + signal

// A finished run: exit code and everything it printed.
struct Ran {
  int code = -1;
  std::string out, err;
};
// Runs args to the end, draining stdout and stderr at once (a full pipe must not stall it).
Ran run(const std::vector<std::string>& args);
// Reads fd into seen until it contains want; false at EOF or after timeout.
bool read_until(int fd, std::string& seen, const std::string& want, std::chrono::milliseconds timeout);

}  // namespace connreset::e2e
