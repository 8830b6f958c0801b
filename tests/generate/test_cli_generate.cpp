// `kinema generate` end to end on a tiny random bundle: signed outputs, one-frame PNGs, a
// preview sheet, and errors that say what to do.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"

namespace fs = std::filesystem;

namespace kinema {
fs::path tiny_bundle();  // test_pipeline.cpp
namespace cli {
int cmd_generate(int argc, char** argv);
}
namespace {

fs::path out_dir() {
  fs::path d = fs::temp_directory_path() / ("kinema_cli_gen_" + std::to_string(::getpid()));
  fs::create_directories(d);
  ::setenv("KINEMA_CONFIG_DIR", (d / "config").c_str(), 1);  // the local signing identity
  return d;
}

int generate(std::vector<std::string> args) {
  args.insert(args.begin(), "generate");
  args.push_back("--model");
  args.push_back(tiny_bundle().string());
  args.push_back("--quiet");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_generate(int(argv.size()), argv.data());
}

std::string error_of(std::vector<std::string> args) {
  try {
    generate(std::move(args));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(CliGenerate, WritesASignedVideoAndAPreviewSheet) {
  const fs::path d = out_dir(), mp4 = d / "clip.mp4";
  ASSERT_EQ(generate({"a red circle moves right", "-o", mp4.string(), "--steps", "2", "--seed", "3"}), 0);
  std::vector<Frame> frames = read_video(mp4.string());
  EXPECT_EQ(frames.size(), 5u);
  EXPECT_EQ(frames[0].width, 32);
  EXPECT_EQ(verify_file(mp4.string()).status, CredentialStatus::valid);
  ASSERT_TRUE(fs::exists(mp4.string() + ".preview.png"));
  EXPECT_EQ(read_video(mp4.string() + ".preview.png")[0].width, 5 * 32 + 4 * 2);
}

TEST(CliGenerate, APngOutputIsTextToImage) {
  const fs::path d = out_dir(), png = d / "image.png";
  ASSERT_EQ(generate({"a blue square", "-o", png.string(), "--steps", "1", "--size", "48x32"}), 0);
  std::vector<Frame> frames = read_video(png.string());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].width, 48);
  EXPECT_EQ(verify_file(png.string()).status, CredentialStatus::valid);
  EXPECT_FALSE(fs::exists(png.string() + ".preview.png"));
}

TEST(CliGenerate, ErrorsSayWhatToDo) {
  const fs::path d = out_dir();
  const std::string out = (d / "x.mp4").string();
  EXPECT_NE(error_of({"-o", out}).find("give a prompt"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", out, "--sampler", "ddim"}).find("dpm++"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", out, "--size", "50x30"}).find("48x32"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", out, "--size", "big"}).find("WxH"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", (d / "x.png").string(), "--frames", "5"}).find("one frame"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", (d / "x.avi").string()}).find("avi"), std::string::npos);
  EXPECT_NE(error_of({"a cat", "-o", out, "--steps", "many"}).find("--steps"), std::string::npos);
}

TEST(CliGenerate, ARefusedPromptWritesNothingAndExitsFive) {
  const fs::path d = out_dir(), out = d / "refused.mp4";
  EXPECT_EQ(generate({"a n@ked woman, explicit sex scene", "-o", out.string()}), 5);
  EXPECT_FALSE(fs::exists(out));
  // An ordinary negative prompt is not a request for what it names.
  EXPECT_EQ(generate({"a red circle", "-o", out.string(), "--steps", "1", "--negative", "blood, gore"}), 0);
}

}  // namespace
}  // namespace kinema
