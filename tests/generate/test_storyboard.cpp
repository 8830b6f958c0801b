// Storyboards and reference frames in front on the tiny random-weight bundle: parsing, shot
// captions in the world's cut phrasing, frame counts, seams at the cuts, references dropped from
// the output, determinism and errors. Structure only: the weights are random.
#include <gtest/gtest.h>

#include <filesystem>

#include "kinema/error.hpp"
#include "kinema/storyboard.hpp"

namespace fs = std::filesystem;

namespace kinema {
fs::path tiny_bundle();  // tests/common/tiny_bundle.cpp
namespace {

Frame solid(uint8_t r, uint8_t g, uint8_t b, int w = 32, int h = 32) {
  Frame f{w, h, std::vector<uint8_t>(size_t(w * h * 3))};
  for (size_t i = 0; i < f.rgb.size(); i += 3) f.rgb[i] = r, f.rgb[i + 1] = g, f.rgb[i + 2] = b;
  return f;
}

GenerateRequest request() {
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.steps = 1, r.seed = 5, r.threads = 1;
  return r;
}

void expect_same(const std::vector<Frame>& got, size_t at, const std::vector<Frame>& want) {
  ASSERT_GE(got.size(), at + want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[at + i].rgb, want[i].rgb) << "frame " << at + i;
}

TEST(Storyboard, ShotMarkersAndJsonParse) {
  Storyboard b = storyboard_from_prompt("a red ball rolls [shot] close-up of the red ball [SHOT] wide", 3);
  ASSERT_EQ(b.shots.size(), 3u);
  EXPECT_EQ(b.shots[1].prompt, "close-up of the red ball");
  EXPECT_DOUBLE_EQ(b.shots[2].seconds, 1);
  EXPECT_TRUE(has_shot_markers("a [Shot] b"));
  EXPECT_FALSE(has_shot_markers("a shot of a ball"));
  EXPECT_THROW(storyboard_from_prompt("a ball [shot] [shot] a star"), Error);
  b = storyboard_from_json(R"([{"prompt": "a red ball rolls", "seconds": 2}, {"prompt": "the ball", "camera": "close-up, pan left"}, "a star"])");
  ASSERT_EQ(b.shots.size(), 3u);
  EXPECT_DOUBLE_EQ(b.shots[0].seconds, 2);
  EXPECT_EQ(b.shots[1].camera, "close-up, pan left");
  EXPECT_EQ(b.shots[2].prompt, "a star");
  EXPECT_EQ(storyboard_from_json(R"({"shots": [{"prompt": "a ball"}]})").shots.size(), 1u);
  auto error = [](const std::string& j) {
    try {
      storyboard_from_json(j);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error(R"([{"prompt": "a", "lens": "50mm"}])").find("unknown field 'lens'"), std::string::npos);
  EXPECT_NE(error(R"([{"prompt": ""}])").find("shot 1 has no prompt"), std::string::npos);
  EXPECT_NE(error(R"([{"prompt": "a", "seconds": 90}])").find("seconds"), std::string::npos);
  EXPECT_NE(error(R"([{"prompt": "a", "seconds": "two"}])").find("number"), std::string::npos);
  EXPECT_NE(error("[]").find("list of shots"), std::string::npos);
  EXPECT_NE(error("{oops").find("not valid JSON"), std::string::npos);
}

TEST(Storyboard, ShotCaptionsUseTheWorldsCutPhrasingAndKeepTheSubjects) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  Storyboard b = storyboard_from_prompt("a small red circle moves right [shot] close-up of the circle [shot] the circle");
  b.shots.push_back({"the circle", 0, "pan left"});
  const std::vector<ShotPlan> plan = plan_storyboard(p, b, request());
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].framing, Framing::wide);
  EXPECT_FALSE(plan[0].cut_caption);
  EXPECT_EQ(plan[1].framing, Framing::close);
  EXPECT_TRUE(plan[1].cut_caption);
  EXPECT_NE(plan[1].caption.find("the shot cuts to a closer view of the same objects"), std::string::npos) << plan[1].caption;
  EXPECT_EQ(plan[1].continue_caption.find("cuts"), std::string::npos) << plan[1].continue_caption;
  // "the circle" names no colour or size: the first shot's are carried over.
  EXPECT_NE(plan[1].caption.find("red"), std::string::npos) << plan[1].caption;
  EXPECT_EQ(plan[2].framing, Framing::wide);  // unspecified after a close-up: back to wide
  EXPECT_FALSE(plan[2].cut_caption);
  EXPECT_EQ(plan[3].framing, Framing::close);
  EXPECT_NE(plan[3].caption.find("pans slowly to the left"), std::string::npos) << plan[3].caption;
  EXPECT_EQ(plan[0].frames, 5);  // the model's clip length
  // The first shot's caption is what generate makes of the prompt.
  EXPECT_EQ(plan[0].caption, p.generate([] { GenerateRequest r = request(); r.prompt = "a small red circle moves right"; r.steps = 1; return r; }()).caption);
  b.shots[3].camera = "dolly zoom";
  EXPECT_THROW(plan_storyboard(p, b, request()), Error);
}

TEST(Storyboard, ShotsCutWithSeamsAndAreDeterministic) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  const Storyboard b = storyboard_from_prompt("a red circle moves right [shot] close-up of the circle [shot] wide shot");
  const ModeResult a = generate_storyboard(p, b, request());
  EXPECT_EQ(a.frames.size(), 15u);
  EXPECT_EQ(a.total_frames, 15);
  EXPECT_EQ(a.seams, (std::vector<int>{5, 10}));
  EXPECT_EQ(a.chunks, 3);
  // Later shots have the anchor frame in front: 1 + 1 (held) latent frames more than the shot's 2.
  EXPECT_EQ(a.peak_latent_frames, 3);
  const ModeResult again = generate_storyboard(p, b, request());
  expect_same(again.frames, 0, a.frames);
  std::vector<Frame> streamed;
  const ModeResult s = generate_storyboard(p, b, request(), {}, [&](const Frame& f) { streamed.push_back(f); });
  EXPECT_TRUE(s.frames.empty());
  expect_same(streamed, 0, a.frames);
  // One shot is exactly `generate` of its prompt.
  const ModeResult one = generate_storyboard(p, storyboard_from_prompt("a red circle moves right"), request());
  expect_same(one.frames, 0, p.generate(request()).frames);
  // Shot lengths from seconds (12 fps: 0.7 s -> 9 frames) and a shot longer than a chunk.
  Storyboard l = b;
  l.shots[0].seconds = 0.7, l.shots[1].seconds = 1.4;  // 9 and 17 frames
  StoryboardOptions o;
  o.mode.context_latents = 1, o.mode.chunk_frames = 9;
  const ModeResult m = generate_storyboard(p, l, request(), o);
  EXPECT_EQ(m.total_frames, 9 + 17 + 5);
  EXPECT_EQ(m.frames.size(), 31u);
  // Cuts at 9 and 26; inside shot 2 (anchor in front: its first clip is 5 frames) chunks at 14, 18, 22.
  EXPECT_EQ(m.seams, (std::vector<int>{9, 14, 18, 22, 26}));
  o.reference_frames = 2;
  EXPECT_THROW(generate_storyboard(p, b, request(), o), Error);
}

TEST(Reference, FramesInFrontAreGivenAndDroppedFromTheOutput) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r = request();
  r.frames = 5, r.keep_latent = true;
  const std::vector<Frame> ref = {solid(200, 30, 30), solid(190, 40, 30), solid(180, 50, 30), solid(170, 60, 30),
                                  solid(160, 70, 30)};
  r.reference = ref;
  const GenerateResult g = p.generate(r);
  ASSERT_EQ(g.frames.size(), 5u);
  EXPECT_EQ(g.latent.shape()[2], 2);       // the clip's own latent frames
  EXPECT_EQ(g.peak_latent_frames, 2 + 2);  // + the reference's 2 (5 frames, the last held 3 more)
  // The same as giving the frames by hand in front and cutting them off.
  GenerateRequest manual = request();
  manual.frames = 8 + 5;
  for (int i = 0; i < 8; ++i) manual.known.push_back({i, ref[size_t(std::min(i, 4))]});
  const GenerateResult m = p.generate(manual);
  expect_same(g.frames, 0, std::vector<Frame>(m.frames.begin() + 8, m.frames.end()));
  // Given frames of the clip keep their indices; the reference changes the clip.
  GenerateRequest plain = request();
  plain.frames = 5;
  EXPECT_NE(p.generate(plain).frames[4].rgb, g.frames[4].rgb);
  r.reference = {ref[0], ref[1]};  // not 1 + 4k
  EXPECT_THROW(p.generate(r), Error);
  r.reference = {solid(1, 2, 3, 48, 32)};  // another size
  EXPECT_THROW(p.generate(r), Error);
  r.reference = {ref[0]};
  r.edit = std::vector<Frame>(5, ref[0]);
  EXPECT_THROW(p.generate(r), Error);
}

}  // namespace
}  // namespace kinema
