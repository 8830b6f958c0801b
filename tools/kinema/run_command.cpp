// One command run as the CLI runs it: the exit status of each outcome (docs/cli.md).
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "kinema/dist.hpp"
#include "kinema/error.hpp"

namespace kinema::cli {
namespace {

int run_command_once(const Command& c, int argc, char** argv) {
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

}  // namespace

int run_command(const Command& c, int argc, char** argv) {
  const int status = run_command_once(c, argc, argv);
  // Under mpirun, a rank that fails ends the job: the others would wait in a collective forever.
  if (status != 0 && status != 130 && launched_by_mpi() && world_comm().size() > 1) {
    std::fprintf(stderr, "kinema %s: rank %d failed; ending all ranks\n", c.name, world_comm().rank());
    std::fflush(stderr);
    world_comm().abort(status);
  }
  return status;
}

}  // namespace kinema::cli
