// `kinema character` and `kinema generate --storyboard` / [shot] / @NAME end to end on the tiny
// bundle: outputs, the cuts in the scorecard beside them, and errors that say what to do.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "kinema/error.hpp"
#include "kinema/media.hpp"

#include "cli_test_util.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace cli {
int cmd_generate(int argc, char** argv);
int cmd_extend(int argc, char** argv);
int cmd_character(int argc, char** argv);
}  // namespace cli
namespace {

fs::path dir() {
  const fs::path d = test::cli_dir("kinema_cli_story");
  ::setenv("KINEMA_HOME", (d / "home").c_str(), 1);  // the character store of generate and extend
  return d;
}

int call(int (*cmd)(int, char**), std::vector<std::string> args) { return test::call_cli(cmd, std::move(args)); }
int gen(int (*cmd)(int, char**), std::vector<std::string> args) { return test::run_tiny(cmd, std::move(args)); }

std::string error_of(const std::function<int()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string clip(const std::string& name, int frames) {
  const std::string path = (dir() / name).string();
  VideoWriterOptions o;
  o.width = 48, o.height = 48, o.fps = 12;
  VideoWriter vw(path, o);
  for (int t = 0; t < frames; ++t) {
    Frame f{48, 48, std::vector<uint8_t>(48 * 48 * 3, 205)};
    for (int y = 14; y < 34; ++y)
      for (int x = 14 + t; x < 34 + t; ++x) {
        uint8_t* p = &f.rgb[size_t(y * 48 + x) * 3];
        p[0] = 220, p[1] = 30, p[2] = 40;
      }
    vw.write(f);
  }
  vw.close();
  return path;
}

nlohmann::json scorecard(const std::string& out) {
  std::ifstream in(out + ".continuity.json");
  return nlohmann::json::parse(in);
}

TEST(CliStoryboard, ShotMarkersAndAStoryboardFileCutWithSeams) {
  const std::string out = (dir() / "shots.mp4").string();
  ASSERT_EQ(gen(cli::cmd_generate, {"a red ball rolls [shot] close-up of the red ball", "-o", out}), 0);
  EXPECT_EQ(read_video(out).size(), 10u);
  nlohmann::json s = scorecard(out);
  EXPECT_EQ(s["mode"], "storyboard");
  ASSERT_EQ(s["seams"].size(), 1u);
  EXPECT_EQ(s["seams"][0]["frame"], 5);
  EXPECT_TRUE(s.contains("subjects"));
  const std::string board = (dir() / "shots.json").string(), out2 = (dir() / "board.mp4").string();
  std::ofstream(board) << R"([{"prompt": "a blue star spins", "seconds": 0.7},
                              {"prompt": "the star", "camera": "close-up"}, {"prompt": "the star", "camera": "wide"}])";
  ASSERT_EQ(gen(cli::cmd_generate, {"--storyboard", board, "-o", out2}), 0);
  EXPECT_EQ(read_video(out2).size(), 9u + 5u + 5u);
  s = scorecard(out2);
  ASSERT_EQ(s["seams"].size(), 2u);
  EXPECT_EQ(s["seams"][1]["frame"], 14);
  EXPECT_NE(error_of([&] { return gen(cli::cmd_generate, {"a ball", "--storyboard", board, "-o", out2}); })
                .find("not both"),
            std::string::npos);
  EXPECT_NE(error_of([&] { return gen(cli::cmd_generate, {"--storyboard", (dir() / "no.json").string()}); })
                .find("cannot read"),
            std::string::npos);
}

TEST(CliStoryboard, CharactersAreCreatedListedUsedAndDeleted) {
  const std::string store = (dir() / "home" / "characters").string(), ball = clip("ball.mp4", 9);
  testing::internal::CaptureStdout();
  ASSERT_EQ(call(cli::cmd_character, {"create", ball, "--name", "Bob", "--dir", store}), 0);
  ASSERT_EQ(call(cli::cmd_character, {"list", "--dir", store}), 0);
  const std::string listed = testing::internal::GetCapturedStdout();
  EXPECT_NE(listed.find("@Bob"), std::string::npos) << listed;
  EXPECT_NE(listed.find("red square"), std::string::npos) << listed;
  // generate and extend with @Bob: the reference is in front, the output keeps its length.
  const std::string out = (dir() / "bob.mp4").string();
  ASSERT_EQ(gen(cli::cmd_generate, {"@Bob moves right", "-o", out}), 0);
  EXPECT_EQ(read_video(out).size(), 5u);
  const std::string ext = (dir() / "bob_ext.mp4").string();
  ASSERT_EQ(gen(cli::cmd_extend, {out, "@Bob moves on", "-o", ext, "--seconds", "0.3", "--context", "1"}), 0);
  EXPECT_EQ(read_video(ext).size(), 5u + 4u);
  const std::string shots = (dir() / "bob_shots.mp4").string();
  ASSERT_EQ(gen(cli::cmd_generate, {"@Bob moves right [shot] close-up of @Bob", "-o", shots}), 0);
  EXPECT_EQ(read_video(shots).size(), 10u);
  EXPECT_NE(error_of([&] { return gen(cli::cmd_generate, {"@Zed spins", "-o", out}); }).find("known: Bob"),
            std::string::npos);
  EXPECT_NE(error_of([&] { return call(cli::cmd_character, {"create", ball, "--dir", store}); }).find("--name"),
            std::string::npos);
  EXPECT_NE(error_of([&] { return call(cli::cmd_character, {"create", ball, "--name", "x y", "--dir", store}); })
                .find("not a character name"),
            std::string::npos);
  EXPECT_NE(error_of([&] { return call(cli::cmd_character, {"rename", "--dir", store}); }).find("unknown action"),
            std::string::npos);
  testing::internal::CaptureStdout();
  ASSERT_EQ(call(cli::cmd_character, {"delete", "@Bob", "--dir", store}), 0);
  testing::internal::GetCapturedStdout();
  EXPECT_NE(error_of([&] { return gen(cli::cmd_generate, {"@Bob moves", "-o", out}); }).find("none stored yet"),
            std::string::npos);
}

}  // namespace
}  // namespace kinema
