#include <cstdio>
#include <exception>

#include "commands/commands.h"

int main(int argc, char** argv) {
  try {
    return connreset::run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "connreset: %s\n", e.what());
    return 1;
  }
}
