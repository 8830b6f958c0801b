#include <omp.h>

#include <cstdio>

#include "commands.hpp"

namespace kinema::cli {

int cmd_info(int, char**) {
  std::printf("kinema 0.1.0\nthreads: %d (OpenMP max)\n", omp_get_max_threads());
  return 0;
}

}  // namespace kinema::cli
