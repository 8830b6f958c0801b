// `kinema generate --image / --seconds` (chunked), `extend`, `join`, `loop`, `edit` end to end
// on the tiny bundle: outputs, scorecards beside them, and errors that say what to do.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "kinema/error.hpp"
#include "kinema/media.hpp"

#include "cli_test_util.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace cli {
int cmd_generate(int argc, char** argv);
int cmd_extend(int argc, char** argv);
int cmd_join(int argc, char** argv);
int cmd_loop(int argc, char** argv);
int cmd_edit(int argc, char** argv);
}  // namespace cli
namespace {

fs::path dir() { return test::cli_dir("kinema_cli_modes"); }
int run(int (*cmd)(int, char**), std::vector<std::string> args) { return test::run_tiny(cmd, std::move(args)); }
std::string error_of(int (*cmd)(int, char**), std::vector<std::string> args) { return test::tiny_error(cmd, std::move(args)); }

std::string write_clip(const std::string& name, int w, int h, int frames) {
  const std::string path = (dir() / name).string();
  VideoWriterOptions o;
  o.width = w, o.height = h, o.fps = 12;
  VideoWriter vw(path, o);
  for (int t = 0; t < frames; ++t) {
    Frame f{w, h, std::vector<uint8_t>(size_t(w * h * 3))};
    for (size_t i = 0; i < f.rgb.size(); ++i) f.rgb[i] = uint8_t((i * 7 + size_t(t) * 20) % 256);
    vw.write(f);
  }
  vw.close();
  return path;
}

TEST(CliModes, ExtendWritesTheVideoAndItsContinuityScorecard) {
  const std::string in = write_clip("in.mp4", 32, 32, 9), out = (dir() / "ext.mp4").string();
  ASSERT_EQ(run(cli::cmd_extend, {in, "the ball rolls on", "-o", out, "--seconds", "0.5", "--context", "1"}), 0);
  EXPECT_EQ(read_video(out).size(), 9u + 8u);
  ASSERT_TRUE(fs::exists(out + ".continuity.json"));
  ASSERT_EQ(run(cli::cmd_extend, {in, "before", "-o", out, "--seconds", "0.5", "--backward", "--context", "1"}), 0);
  EXPECT_EQ(read_video(out).size(), 9u + 9u);
}

TEST(CliModes, JoinLoopAndEdit) {
  const std::string a = write_clip("a.mp4", 32, 32, 5), b = write_clip("b.mp4", 32, 32, 8);
  const std::string out = (dir() / "joined.mp4").string();
  ASSERT_EQ(run(cli::cmd_join, {a, b, "a star drifts", "-o", out, "--seconds", "0.3", "--context", "1"}), 0);
  EXPECT_EQ(read_video(out).size(), 5u + 4u + 8u);
  const std::string loop = (dir() / "loop.mp4").string();
  ASSERT_EQ(run(cli::cmd_loop, {"a green circle rolls right", "-o", loop, "--seconds", "1", "--context", "1"}), 0);
  EXPECT_EQ(read_video(loop).size(), 13u);
  EXPECT_TRUE(fs::exists(loop + ".continuity.json"));
  const std::string edited = (dir() / "edited.mp4").string();
  ASSERT_EQ(run(cli::cmd_edit, {a, "a blue star", "-o", edited, "--strength", "0.5"}), 0);
  EXPECT_EQ(read_video(edited).size(), 5u);
}

TEST(CliModes, GenerateAnimatesAnImageAndMakesLongVideosInChunks) {
  const std::string img = (dir() / "first.png").string();
  write_image(img, Frame{40, 24, std::vector<uint8_t>(40 * 24 * 3, 200)});
  const std::string out = (dir() / "i2v.mp4").string();
  ASSERT_EQ(run(cli::cmd_generate, {"a red ball", "-o", out, "--image", img, "--last-image", img}), 0);
  EXPECT_EQ(read_video(out).size(), 5u);
  const std::string longer = (dir() / "long.mp4").string();
  ASSERT_EQ(run(cli::cmd_generate, {"a red ball", "-o", longer, "--seconds", "2", "--chunk-frames", "9",
                                    "--context", "1"}),
            0);
  EXPECT_EQ(read_video(longer).size(), 25u);
  EXPECT_TRUE(fs::exists(longer + ".continuity.json"));
}

TEST(CliModes, ErrorsSayWhatToDo) {
  const std::string out = (dir() / "x.mp4").string(), missing = (dir() / "nothing.mp4").string();
  EXPECT_NE(error_of(cli::cmd_extend, {missing, "go on", "-o", out}).find("does not exist"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_edit, {missing, "blue", "-o", out}).find("does not exist"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_generate, {"a ball", "-o", out, "--image", missing}).find("does not exist"),
            std::string::npos);
  const std::string in = write_clip("small.mp4", 32, 32, 5);
  EXPECT_NE(error_of(cli::cmd_edit, {in, "blue", "-o", out, "--strength", "1.5"}).find("[0, 1]"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_edit, {in, "blue", "-o", out, "--strength", "much"}).find("--strength"),
            std::string::npos);
  EXPECT_NE(error_of(cli::cmd_generate, {"a ball", "-o", out, "--seconds", "61"}).find("60"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_extend, {in, "go on", "-o", out, "--seconds", "61"}).find("60"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_loop, {"spin", "-o", out, "--seconds", "90"}).find("60"), std::string::npos);
  EXPECT_NE(error_of(cli::cmd_extend, {in, "-o", out}).find("give a video and a prompt"), std::string::npos);
}

TEST(CliModes, AnInputWhoseSizeIsNotAMultipleOf16IsResizedWithANote) {
  const std::string in = write_clip("odd.mp4", 50, 30, 5), out = (dir() / "odd_edit.mp4").string();
  testing::internal::CaptureStderr();
  const int rc = run(cli::cmd_edit, {in, "blue", "-o", out, "--strength", "0.3"});
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_EQ(rc, 0);
  EXPECT_NE(err.find("resized to 48x32"), std::string::npos) << err;
  const std::vector<Frame> f = read_video(out);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(f[0].width, 48);
  EXPECT_EQ(f[0].height, 32);
}

}  // namespace
}  // namespace kinema
