// The modes benchmark (`kinema scorecard --modes`, kinema/modes_scorecard.hpp): end to end on the
// tiny bundle it writes every figure with its bar and count, and the arithmetic behind the figures
// is right on inputs where the answer is known (rendered by the world, or constructed).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "error_of.hpp"
#include "kinema/heldout_prompts.hpp"
#include "kinema/modes.hpp"
#include "kinema/modes_scorecard.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace cli {
int cmd_scorecard(int argc, char** argv);
}
namespace {

world::Scene one_object(world::Behavior b, double speed, int frames = 24) {
  world::Scene s;
  s.width = s.height = 64, s.frames = frames;
  world::Object o;
  o.shape = world::Shape::star, o.color = world::Color::red, o.size = world::Size::large;
  o.behavior = b, o.speed = speed, o.dir = world::Dir::right, o.x = 0.3;
  s.objects = {o};
  return s;
}

TEST(ModesScorecard, WritesEveryFigureWithItsBarAndCountOnTheTinyBundleForThePlainScorecardsPrompts) {
  const fs::path out = test::cli_dir("kinema_modes_scorecard") / "modes";
  ASSERT_EQ(test::call_cli(cli::cmd_scorecard, {"--modes", "--prompts", "1", "--steps", "1", "--seconds", "0.5",
                                                "--long", "--long-seconds", "2", "--short-seconds", "1", "--out",
                                                out.string(), "--model", tiny_bundle().string()}),
            0);
  std::ifstream f(out / "modes.json");
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["prompts"], 1);
  EXPECT_EQ(j["per_prompt"].size(), 1u);
  std::set<std::string> ids;
  for (const auto& fig : j["figures"]) {
    ids.insert(fig["id"].get<std::string>());
    EXPECT_FALSE(fig["bar"].get<std::string>().empty()) << fig.dump();
    EXPECT_TRUE(fig.contains("count") && fig.contains("value") && fig.contains("pass")) << fig.dump();
    if (fig["count"].get<int>() > 0 && fig["bar"] != "-") {
      EXPECT_TRUE(fig["pass"].is_boolean()) << fig.dump();
    }
  }
  for (const char* id : {"i2v.psnr", "i2v.motion", "extend_forward.identity", "extend_forward.seam",
                         "extend_backward.identity", "extend_backward.seam", "join.identity", "join.seam",
                         "loop.closure", "multishot.identity", "character.identity", "edit.changed", "edit.tracks",
                         "long.memory", "long.linear", "long.rate", "long.drift"})
    EXPECT_EQ(ids.count(id), 1u) << id;
  // One prompt: one PSNR, one loop, one seam per extension, two for the join, two long renders.
  auto count_of = [&](const std::string& id) {
    for (const auto& fig : j["figures"])
      if (fig["id"] == id) return fig["count"].get<int>();
    return -1;
  };
  EXPECT_EQ(count_of("i2v.psnr"), 1);
  EXPECT_EQ(count_of("loop.closure"), 1);
  EXPECT_EQ(count_of("extend_backward.seam"), 1);
  EXPECT_EQ(count_of("join.seam"), 2);
  EXPECT_EQ(count_of("long.memory"), 2);
  ASSERT_EQ(j["long_renders"].size(), 2u);
  EXPECT_EQ(j["long_renders"][1]["chunk_cpu_seconds"].size(), j["long_renders"][1]["chunks"].get<size_t>());
  EXPECT_TRUE(fs::exists(out / "modes.md"));
  // `kinema scorecard` judges the same held-out prompt first.
  const fs::path plain = out.parent_path() / "plain";
  ASSERT_EQ(test::call_cli(cli::cmd_scorecard, {"--prompts", "1", "--steps", "1", "--out", plain.string(), "--model",
                                                tiny_bundle().string()}),
            0);
  std::ifstream md(plain / "prompts.md");
  const std::string table((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(table.find("| 0 | " + j["per_prompt"][0]["prompt"].get<std::string>() + " |"), std::string::npos) << table;
}

TEST(ModesScorecard, ErrorsSayWhatToDo) {
  auto error = [](std::vector<std::string> args) {
    for (std::string a : {std::string("--modes"), std::string("--model"), tiny_bundle().string()}) args.push_back(a);
    return test::error_of([&] { test::call_cli(cli::cmd_scorecard, args); });
  };
  EXPECT_NE(error({"--prompts", "0"}).find("--prompts must be at least 1"), std::string::npos);
  EXPECT_NE(error({"--long", "--long-seconds", "5", "--short-seconds", "10"}).find("the long one must be longer"), std::string::npos);
  EXPECT_NE(error({"--frames", "3"}).find("scorecard --modes --help"), std::string::npos);
  EXPECT_NE(error({"--plan-guidance", "2"}).find("--plan-guidance is 0, 1 or -1"), std::string::npos);
}

// `kinema scorecard ARGS --steps 2` on the tiny bundle: its report.json (a failed run fails the
// test: the exit status is expected 0, and parsing a missing report throws).
nlohmann::json tiny_report(const std::string& name, std::vector<std::string> args) {
  const fs::path out = test::cli_dir("kinema_scorecard_" + name) / name;
  for (const char* a : {"--steps", "2", "--model"}) args.push_back(a);
  args.push_back(tiny_bundle().string());
  args.push_back("--out");
  args.push_back(out.string());
  EXPECT_EQ(test::call_cli(cli::cmd_scorecard, args), 0) << name;
  std::ifstream f(out / "report.json");
  return nlohmann::json::parse(f);
}

// Claims judged over every kind of a report.
int claims_judged(const nlohmann::json& report) {
  int total = 0;
  for (const auto& [kind, pt] : report.at("kinds").items()) total += pt.at("total").get<int>();
  return total;
}

TEST(Scorecard, FromNoiseJudgesTheSameNumberOfPromptsAndSaysItsLevel) {
  const nlohmann::json j = tiny_report("from_noise", {"--prompts", "1", "--from-noise", "0.5"});
  EXPECT_EQ(j["from_noise"], 0.5);
  EXPECT_GT(claims_judged(j), 0);
  auto error = [](const char* level) {
    return test::error_of([&] {
      test::call_cli(cli::cmd_scorecard, {"--from-noise", level, "--model", tiny_bundle().string()});
    });
  };
  EXPECT_NE(error("0").find("--from-noise must lie in (0, 1]"), std::string::npos);
  EXPECT_NE(error("1.5").find("--from-noise must lie in (0, 1]"), std::string::npos);
}

// Text-to-image: one-frame samples of scenes that hold still, so nothing is judged on motion.
TEST(Scorecard, OneFrameJudgesStillImagesWithoutMotionClaims) {
  const nlohmann::json j = tiny_report("image", {"--prompts", "2", "--frames", "1"});
  EXPECT_EQ(j["frames"], 1);
  for (const auto& [kind, pt] : j["kinds"].items()) EXPECT_NE(kind, "motion");
  EXPECT_GT(claims_judged(j), 0);
  const std::string e = test::error_of([&] {
    test::call_cli(cli::cmd_scorecard, {"--frames", "-1", "--model", tiny_bundle().string()});
  });
  EXPECT_NE(e.find("--frames must be positive"), std::string::npos) << e;
}

TEST(Scorecard, TrainingSplitDrawsOnlyScenesTrainingCanSeeAndHeldOutOnlyTheOthers) {
  const world::SampleOptions size{64, 64, 12, 12};
  HeldOutPrompts held(3, size), seen(3, size, PromptSplit::training);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(world::is_held_out(held.next().scene));
    EXPECT_FALSE(world::is_held_out(seen.next().scene));
  }
  EXPECT_EQ(tiny_report("split", {"--prompts", "1", "--split", "training"})["split"], "training");
  const std::string e = test::error_of([&] {
    test::call_cli(cli::cmd_scorecard, {"--split", "train", "--model", tiny_bundle().string()});
  });
  EXPECT_NE(e.find("--split must be heldout or training"), std::string::npos);
}

// Focus prompts: one large object alone, held out only where its colour x shape pair is.
TEST(Scorecard, FocusPromptsShowOneLargeObjectAloneInEitherSplit) {
  const world::SampleOptions focus{64, 64, 12, 12, true};
  HeldOutPrompts held(3, focus), seen(3, focus, PromptSplit::training);
  for (int i = 0; i < 20; ++i) {
    const world::Scene h = held.next().scene, s = seen.next().scene;
    ASSERT_EQ(h.objects.size(), 1u);
    ASSERT_EQ(s.objects.size(), 1u);
    for (const world::Scene* sc : {&h, &s})  // a growing object starts a size below
      EXPECT_EQ(sc->objects[0].size, sc->objects[0].behavior == world::Behavior::grow ? world::Size::medium
                                                                                     : world::Size::large);
    EXPECT_TRUE(world::is_held_out(h));
    EXPECT_FALSE(world::is_held_out(s));
  }
  const nlohmann::json j = tiny_report("focus", {"--prompts", "1", "--frames", "1", "--focus"});
  EXPECT_EQ(j["focus"], true);
  EXPECT_GT(j["kinds"]["shape"]["total"].get<int>(), 0);
}

TEST(ModesScorecard, PsnrOfIdenticalFramesIsInfiniteAndOfAKnownErrorExact) {
  const Frame a{8, 4, std::vector<uint8_t>(8 * 4 * 3, 100)};
  Frame b = a;
  EXPECT_TRUE(std::isinf(frame_psnr(a, b)));
  for (uint8_t& v : b.rgb) v = 110;  // MSE 100
  EXPECT_NEAR(frame_psnr(a, b), 10 * std::log10(255.0 * 255.0 / 100.0), 1e-9);
}

TEST(ModesScorecard, TrackErrorIsZeroForTheSameMotionInAnotherColourAndTheShiftOtherwise) {
  world::Scene s = one_object(world::Behavior::move, 0.2);
  const std::vector<Frame> in = render_frames(s);
  world::Scene recoloured = s;
  recoloured.objects[0].color = world::Color::blue;
  EXPECT_LT(track_error_px(in, render_frames(recoloured)), 0.5);
  world::Scene shifted = s;
  shifted.objects[0].x += 6.0 / s.height;  // 6 pixels to the right
  EXPECT_NEAR(track_error_px(in, render_frames(shifted)), 6.0, 0.75);
  // Matching is one to one: two input subjects over one output blob leave one of them unmatched.
  world::Scene two = s;
  two.objects.push_back(s.objects[0]);
  two.objects[1].color = world::Color::blue, two.objects[1].y = 0.8, two.objects[0].y = 0.2;
  world::Scene first_only = two;
  first_only.objects.pop_back();
  EXPECT_TRUE(std::isinf(track_error_px(render_frames(two), render_frames(first_only))));
}

TEST(ModesScorecard, APerfectlyLoopingClipClosesWithinTheBarAndAOneWayClipDoesNot) {
  // A star turning one fifth of a turn over the clip: frame F would be frame 0 again.
  const int F = 24;
  const double turn = 2 * M_PI / 5 / (double(F) / 12);
  const auto looping = render_frames(one_object(world::Behavior::rotate, turn, F));
  const ContinuityScorecard c = continuity_scorecard(looping, {}, "loop", true);
  EXPECT_GT(c.loop_ratio, 0.7);
  EXPECT_LE(c.loop_ratio, 1.3);
  const auto one_way = render_frames(one_object(world::Behavior::move, 0.4, F));
  EXPECT_GT(continuity_scorecard(one_way, {}, "loop", true).loop_ratio, 1.5);
}

TEST(ModesScorecard, ARenderedContinuationMeetsTheSeamAndIdentityBars) {
  // The world's own continuation of a clip is a perfect extension.
  const auto frames = render_frames(one_object(world::Behavior::move, 0.2, 48));
  const ContinuityScorecard c = continuity_scorecard(frames, {24}, "extend", false);
  ASSERT_EQ(c.seam_ratios.size(), 1u);
  EXPECT_LE(c.seam_ratios[0], 1.5);
  EXPECT_EQ(c.subjects.before, 1);
  EXPECT_EQ(c.subjects.found, 1);
}

TEST(ModesScorecard, FiguresPoolSharesAndTakeMediansAndListWhatWasNotMeasured) {
  PromptMeasures a, b;
  a.add_count("join.identity", 3, 4), b.add_count("join.identity", 1, 4);
  a.add_value("loop.closure", 1.0), b.add_value("loop.closure", 3.0), b.add_value("loop.closure", 1.4);
  a.add_value("i2v.psnr", INFINITY);
  const std::vector<ModeFigure> figs = aggregate_mode_figures({a, b});
  auto get = [&](const std::string& id) {
    for (const ModeFigure& f : figs)
      if (f.id == id) return f;
    ADD_FAILURE() << id;
    return ModeFigure{};
  };
  EXPECT_DOUBLE_EQ(get("join.identity").value, 50.0);
  EXPECT_EQ(get("join.identity").count, 8);
  EXPECT_FALSE(*get("join.identity").pass);
  EXPECT_DOUBLE_EQ(get("loop.closure").value, 1.4);
  EXPECT_NEAR(get("loop.closure").within, 2.0 / 3, 1e-12);
  EXPECT_TRUE(*get("loop.closure").pass);
  EXPECT_TRUE(*get("i2v.psnr").pass);
  EXPECT_EQ(get("edit.changed").count, 0);
  EXPECT_FALSE(get("edit.changed").pass.has_value());
  EXPECT_TRUE(std::isnan(get("edit.changed").value));
}

TEST(ModesScorecard, DriftCountsSubjectsSeenInTheFirstAndTheLastChunk) {
  SubjectReport r;
  SubjectDrift whole, late;
  whole.first_frame = 0, whole.last_frame = 90, whole.delta_e = 3;
  late.first_frame = 40, late.last_frame = 90, late.delta_e = 9;  // not in the first chunk
  r.subjects = {whole, late};
  const auto [worst, n] = first_to_last_drift(r, {25, 50, 75});
  EXPECT_DOUBLE_EQ(worst, 3);
  EXPECT_EQ(n, 1);
  LongRenderMeasure s, l;
  s.peak_rss_bytes = 100, l.peak_rss_bytes = 105, s.median_chunk_cpu = 2, l.median_chunk_cpu = 2.4;
  s.video_seconds = 10, l.video_seconds = 60, s.wall_seconds = 14, l.wall_seconds = 90;
  l.first_to_last_delta_e = 3, l.drift_subjects = 1;
  const std::vector<ModeFigure> f = long_render_figures(&s, &l);
  EXPECT_NEAR(f[0].value, 1.05, 1e-12);
  EXPECT_TRUE(*f[0].pass);
  EXPECT_NEAR(f[1].value, 1.2, 1e-12);
  EXPECT_FALSE(*f[1].pass);
  EXPECT_NEAR(f[2].value, 1.5, 1e-12);
  EXPECT_FALSE(f[2].pass.has_value());  // compute per second of video is reported, not barred
  EXPECT_TRUE(*f[3].pass);
  l.drift_subjects = 0;  // no subject tracked from the first chunk to the last: nothing measured
  EXPECT_FALSE(long_render_figures(&s, &l)[3].pass.has_value());
}

}  // namespace
}  // namespace kinema
