// `kinema verify`: exit status says valid (0), invalid (3) or none (4).
#include <gtest/gtest.h>

#include <filesystem>

#include "io_test_util.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"

namespace kinema::cli {
int cmd_verify(int argc, char** argv);
}

namespace kinema {
namespace {

int verify_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "verify");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_verify(int(argv.size()), argv.data());
}

TEST(CliVerify, ExitStatusIsZeroForValidThreeForAlteredFourForNone) {
  test::TempDir dir;
  Provenance p;
  p.signer.config_dir = dir.file("config");
  std::string path = dir.file("a.png");
  write_image(path, test::test_pattern(32, 32, 0), &p);
  EXPECT_EQ(verify_cli({"--config-dir", p.signer.config_dir, path}), 0);
  auto b = test::read_bytes(path);
  b[b.size() - 20] ^= 1;  // in IDAT/IEND: media bytes, not the manifest
  test::write_bytes(dir.file("b.png"), b);
  EXPECT_EQ(verify_cli({"--quiet", dir.file("b.png")}), 3);
  write_image(dir.file("c.png"), test::test_pattern(32, 32, 0));
  EXPECT_EQ(verify_cli({dir.file("c.png")}), 4);
  EXPECT_EQ(verify_cli({dir.file("c.png"), dir.file("b.png")}), 3) << "invalid outranks none";
  EXPECT_EQ(verify_cli({}), 2);
  EXPECT_THROW(verify_cli({dir.file("missing.png")}), Error);
}

}  // namespace
}  // namespace kinema
