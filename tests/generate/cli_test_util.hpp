// Running the mode commands in-process on the tiny bundle, as the CLI tests of this folder do.
#pragma once
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "kinema/error.hpp"
#include "temp_dir.hpp"

namespace kinema {
std::filesystem::path tiny_bundle();  // tests/common/tiny_bundle.cpp
namespace test {

// A fresh directory for one test binary's outputs, with its own local signing identity.
inline std::filesystem::path cli_dir(const std::string& name) {
  const std::filesystem::path d = process_temp_dir(name);
  ::setenv("KINEMA_CONFIG_DIR", (d / "config").c_str(), 1);
  return d;
}

// cmd(args...) as `kinema` would call it.
inline int call_cli(int (*cmd)(int, char**), std::vector<std::string> args) {
  args.insert(args.begin(), "cmd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cmd(int(argv.size()), argv.data());
}

// The same on the tiny bundle, quietly, one sampling step, no frame review or preview.
inline int run_tiny(int (*cmd)(int, char**), std::vector<std::string> args) {
  for (const char* a : {"--quiet", "--no-frame-review", "--steps", "1", "--preview", "none", "--model"}) args.push_back(a);
  args.push_back(tiny_bundle().string());
  return call_cli(cmd, std::move(args));
}

// The message of the kinema::Error a tiny run throws, or "no error".
inline std::string tiny_error(int (*cmd)(int, char**), std::vector<std::string> args) {
  try {
    run_tiny(cmd, std::move(args));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace test
}  // namespace kinema
