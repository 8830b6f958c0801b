#include <cstdio>

#include "commands.hpp"

namespace kinema::cli {

int cmd_version(int, char**) {
  std::printf("kinema 0.1.0\n");
  return 0;
}

}  // namespace kinema::cli
