// `kinema verify`: exit status says valid (0), invalid (3) or none (4).
#include <gtest/gtest.h>

#include <filesystem>

#include "io_test_util.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"

namespace kinema::cli {
int cmd_verify(int argc, char** argv);
int cmd_sign(int argc, char** argv);
}

namespace kinema {
namespace {

int run_cli(int (*cmd)(int, char**), const char* name, std::vector<std::string> args) {
  args.insert(args.begin(), name);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cmd(int(argv.size()), argv.data());
}
int verify_cli(std::vector<std::string> args) { return run_cli(cli::cmd_verify, "verify", std::move(args)); }
int sign_cli(std::vector<std::string> args) { return run_cli(cli::cmd_sign, "sign", std::move(args)); }

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

TEST(CliSign, SignsExistingFilesWithTheLocalIdentityAndRecordsTheSettings) {
  test::TempDir dir;
  std::string png = dir.file("x.png"), gif = dir.file("x.gif");
  write_image(png, test::test_pattern(16, 16, 0));
  VideoWriterOptions o;
  o.width = 16, o.height = 16;
  {
    VideoWriter w(gif, o);
    w.write(test::test_pattern(16, 16, 0));
    w.close();
  }
  std::string cfg = dir.file("cfg");
  EXPECT_EQ(sign_cli({"--config-dir", cfg, "--model", "m1", "--seed", "7", "--set", "steps=20", png, gif}), 0);
  EXPECT_EQ(verify_cli({"--config-dir", cfg, png, gif}), 0);
  auto r = verify_file(png, {cfg});
  EXPECT_NE(r.generation_json.find("\"seed\":7"), std::string::npos) << r.generation_json;
  EXPECT_NE(r.generation_json.find("\"steps\":\"20\""), std::string::npos) << r.generation_json;
  EXPECT_THROW(sign_cli({"--set", "nokeyvalue", png}), Error);
}

}  // namespace
}  // namespace kinema
