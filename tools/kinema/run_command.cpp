// One command run as the CLI runs it: the exit status of each outcome (docs/cli.md).
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "kinema/error.hpp"

namespace kinema::cli {

int run_command(const Command& c, int argc, char** argv) {
  try {
    return c.run(argc, argv);
  } catch (const kinema::Error& e) {
    if (e.kind() == kinema::ErrorKind::refused) {
      std::fprintf(stderr, "kinema %s: refused: %s\n", c.name, e.what());
      return kRefusedExit;
    }
    std::fprintf(stderr, "kinema %s: error: %s\n", c.name, e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kinema %s: internal error: %s\n", c.name, e.what());
    return 70;
  }
}

}  // namespace kinema::cli
