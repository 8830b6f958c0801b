// Per-process scratch directories for tests, removed when the test process exits: test binaries
// used to leave one directory per run in /tmp (758 tiny model bundles, 1 GB, by session 11).
#pragma once
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace kinema::test {

// The directories process_temp_dir made; removed when the process that made them exits
// normally (a forked child exiting leaves its parent's alone).
struct ProcessTempDirs {
  std::vector<std::filesystem::path> paths;
  pid_t owner = ::getpid();
  ~ProcessTempDirs() {
    if (::getpid() != owner) return;
    std::error_code ec;
    for (const auto& p : paths) std::filesystem::remove_all(p, ec);
  }
};

// <temp>/<name>_<pid>: emptied on the first call in this process (a crashed run with the same
// pid may have left one), kept across calls, removed at exit.
inline std::filesystem::path process_temp_dir(const std::string& name) {
  static ProcessTempDirs dirs;
  const std::filesystem::path d = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  if (std::find(dirs.paths.begin(), dirs.paths.end(), d) == dirs.paths.end()) {
    std::filesystem::remove_all(d);
    dirs.paths.push_back(d);
  }
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace kinema::test
