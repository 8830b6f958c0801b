// Extend, join, loop, edit and long videos on the tiny bundle: lengths, kept input frames,
// SDEdit's two ends, chunk counts, bounded live latents and determinism.
#include <gtest/gtest.h>

#include <filesystem>

#include "kinema/error.hpp"
#include "kinema/modes.hpp"
#include "kinema/ops.hpp"

namespace fs = std::filesystem;

namespace kinema {
fs::path tiny_bundle();  // tests/common/tiny_bundle.cpp
namespace {

std::vector<Frame> clip(int n, uint32_t seed) {
  std::vector<Frame> v;
  for (int t = 0; t < n; ++t) {
    Frame f{32, 32, std::vector<uint8_t>(32 * 32 * 3)};
    uint32_t s = seed * 7919u + uint32_t(t) * 104729u + 1;
    for (auto& b : f.rgb) s = s * 1664525u + 1013904223u, b = uint8_t(s >> 24);
    v.push_back(std::move(f));
  }
  return v;
}

GenerateRequest request() {
  GenerateRequest r;
  r.prompt = "a green star falls", r.steps = 1, r.seed = 3, r.threads = 1;
  return r;
}

ModeOptions k1() {
  ModeOptions o;
  o.context_latents = 1, o.chunk_frames = 9;
  return o;
}

void expect_same(const std::vector<Frame>& got, size_t at, const std::vector<Frame>& want) {
  ASSERT_GE(got.size(), at + want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[at + i].rgb, want[i].rgb) << "frame " << at + i;
}

TEST(Modes, FramesForSecondsRoundsUpToLatentFramesAndCapsAtSixty) {
  EXPECT_EQ(frames_for_seconds(1, 12), 12);
  EXPECT_EQ(frames_for_seconds(0.5, 12), 8);
  EXPECT_THROW(frames_for_seconds(61, 12), Error);
  EXPECT_THROW(frames_for_seconds(0, 12), Error);
}

TEST(Modes, ExtendForwardKeepsTheInputAndAddsTheNewFrames) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  const std::vector<Frame> in = clip(9, 1);
  ModeResult m = extend_video(p, in, request(), 8, false, k1());
  EXPECT_EQ(m.frames.size(), 9u + 8u);
  expect_same(m.frames, 0, in);
  EXPECT_EQ(m.seams, (std::vector<int>{9}));
  EXPECT_EQ(m.peak_latent_frames, 3);  // 1 context latent frame + 2 new
  // Rounded up to whole latent frames.
  EXPECT_EQ(extend_video(p, in, request(), 5, false, k1()).frames.size(), 9u + 8u);
  // Longer than a chunk (9 frames): continued in chunks of 4 new frames after 5 of context.
  ModeResult l = extend_video(p, in, request(), 12, false, k1());
  EXPECT_EQ(l.frames.size(), 9u + 12u);
  expect_same(l.frames, 0, in);
  EXPECT_EQ(l.chunks, 3);
  EXPECT_EQ(l.seams, (std::vector<int>{9, 13, 17}));
  EXPECT_EQ(l.peak_latent_frames, 3);
}

TEST(Modes, ExtendBackwardInventsFramesBeforeTheInput) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  const std::vector<Frame> in = clip(7, 2);
  ModeResult m = extend_video(p, in, request(), 5, true, k1());
  EXPECT_EQ(m.frames.size(), 5u + 7u);
  expect_same(m.frames, 5, in);
  EXPECT_EQ(m.seams, (std::vector<int>{5}));
  EXPECT_THROW(extend_video(p, clip(3, 2), request(), 5, true, k1()), Error);  // under 4 frames
}

TEST(Modes, JoinIsAThenTransitionThenB) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  const std::vector<Frame> a = clip(5, 3), b = clip(8, 4);
  ModeResult m = join_videos(p, a, b, request(), 4, k1());
  ASSERT_EQ(m.frames.size(), 5u + 4u + 8u);
  expect_same(m.frames, 0, a);
  expect_same(m.frames, 9, b);
  EXPECT_EQ(m.seams, (std::vector<int>{5, 9}));
}

TEST(Modes, LoopIsAFirstPassAndABridgeBackToItsStart) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r = request();
  r.frames = 13;
  ModeResult m = loop_video(p, r, k1());
  EXPECT_EQ(m.frames.size(), 13u);
  EXPECT_TRUE(m.loop);
  EXPECT_EQ(m.seams, (std::vector<int>{9}));
  EXPECT_EQ(m.chunks, 2);
  const ContinuityScorecard s = continuity_scorecard(m.frames, m.seams, "loop", true);
  EXPECT_EQ(s.seams.size(), 1u);
  EXPECT_GT(s.loop_closure, 0);
  r.frames = 5;
  EXPECT_THROW(loop_video(p, r, k1()), Error);
}

TEST(Modes, EditAtStrengthZeroIsTheInputsDecodeAndAtOneIgnoresTheInput) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  const std::vector<Frame> in = clip(5, 5), other = clip(5, 6);
  GenerateRequest r = request();
  r.steps = 2, r.edit = in, r.strength = 0;
  GenerateResult zero = p.generate(r);
  const std::vector<Frame> decoded = p.decode_frames(p.encode_frames(in));
  expect_same(zero.frames, 0, decoded);
  r.strength = 1;
  GenerateResult one = p.generate(r);
  r.edit = other;
  expect_same(p.generate(r).frames, 0, one.frames);  // the input does not matter
  GenerateRequest plain = request();
  plain.steps = 2, plain.frames = 5;
  expect_same(p.generate(plain).frames, 0, one.frames);  // strength 1 = text-to-video
  r.strength = 0.5f;
  GenerateResult half = p.generate(r);
  EXPECT_NE(half.frames[2].rgb, one.frames[2].rgb);
  r.strength = 1.5f;
  EXPECT_THROW(p.generate(r), Error);
  r.strength = 0.5f, r.edit.pop_back();
  r.frames = 5;
  EXPECT_THROW(p.generate(r), Error);  // 4 frames for a 5-frame clip
}

TEST(Modes, LongVideosAreChunkedWithBoundedLatentsAndDeterministic) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r = request();
  r.frames = 17;  // chunk 0: 9 frames; then 4 new frames per chunk after 5 of context
  ModeResult a = generate_long(p, r, k1());
  EXPECT_EQ(a.frames.size(), 17u);
  EXPECT_EQ(a.chunks, 3);
  EXPECT_EQ(a.seams, (std::vector<int>{9, 13}));
  EXPECT_EQ(a.peak_latent_frames, 3);
  ModeResult b = generate_long(p, r, k1());
  expect_same(b.frames, 0, a.frames);  // same seed, same frames
  std::vector<Frame> streamed;
  ModeResult s = generate_long(p, r, k1(), [&](const Frame& f) { streamed.push_back(f); });
  EXPECT_TRUE(s.frames.empty());
  expect_same(streamed, 0, a.frames);
  // Twice as long: twice the chunks, the same live latent frames.
  r.frames = 33;
  ModeResult longer = generate_long(p, r, k1(), [](const Frame&) {});
  EXPECT_EQ(longer.chunks, 7);
  EXPECT_EQ(longer.peak_latent_frames, a.peak_latent_frames);
  EXPECT_EQ(longer.total_frames, 33);
  // The first chunk is what a single clip of that length would be.
  GenerateRequest one = request();
  one.frames = 9;
  expect_same(a.frames, 0, p.generate(one).frames);
  // Without the anchor, the later chunks change (their first context frame differs).
  ModeOptions na = k1();
  na.anchor = false;
  r.frames = 17;
  ModeResult c = generate_long(p, r, na);
  expect_same(c.frames, 0, std::vector<Frame>(a.frames.begin(), a.frames.begin() + 9));
  EXPECT_NE(c.frames[16].rgb, a.frames[16].rgb);
  na.chunk_frames = 7;  // not 1 + 4m with room for context
  EXPECT_THROW(generate_long(p, r, na), Error);
}

// A stopped long render goes on from the frames it made and the sampler state inside the next
// chunk (kinema serve's jobs survive a kill), and makes the frames of an uninterrupted run.
TEST(Modes, ALongRenderResumesFromItsMadeChunksAndStepCheckpoint) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r = request();
  r.frames = 17, r.steps = 3;  // chunks of 9, 4, 4 new frames
  std::vector<int> done_at;
  std::vector<std::pair<int, SampleCheckpoint>> steps;  // (frames made before the chunk, state)
  ModeOptions o = k1();
  o.chunk_done = [&](int made) { done_at.push_back(made); };
  r.checkpoint = [&](const SampleCheckpoint& c) { steps.push_back({done_at.empty() ? 0 : done_at.back(), c}); };
  const ModeResult whole = generate_long(p, r, o);
  EXPECT_EQ(done_at, (std::vector<int>{9, 13, 17}));
  ASSERT_EQ(steps.size(), 6u);  // 2 checkpoints per chunk (none after the last step)
  r.checkpoint = nullptr;
  for (size_t have : {9u, 11u, 13u, 17u}) {  // 11: a partial chunk is sampled anew
    ModeOptions ro = k1();
    ro.resume_frames.assign(whole.frames.begin(), whole.frames.begin() + ptrdiff_t(have));
    std::vector<int> sampled;
    ro.chunk_done = [&](int made) { sampled.push_back(made); };
    const ModeResult m = generate_long(p, r, ro);
    expect_same(m.frames, 0, whole.frames);
    EXPECT_EQ(m.seams, whole.seams);
    EXPECT_EQ(m.chunks, 3);
    EXPECT_EQ(sampled.size(), have >= 17 ? 0u : have >= 13 ? 1u : 2u) << have;
  }
  // Inside the second chunk after its first step: the same frames, from the saved state.
  ModeOptions ro = k1();
  ro.resume_frames.assign(whole.frames.begin(), whole.frames.begin() + 9);
  ASSERT_EQ(steps[2].first, 9);
  ro.resume_step = std::make_shared<SampleCheckpoint>(steps[2].second), ro.resume_step_made = 9;
  expect_same(generate_long(p, r, ro).frames, 0, whole.frames);
  // The state is used: a different one changes the chunk it belongs to, and only that one.
  SampleCheckpoint other = steps[2].second;
  other.x = scale(other.x, 0.5f);
  ro.resume_step = std::make_shared<SampleCheckpoint>(other);
  const ModeResult changed = generate_long(p, r, ro);
  expect_same(changed.frames, 0, std::vector<Frame>(whole.frames.begin(), whole.frames.begin() + 9));
  EXPECT_NE(changed.frames[12].rgb, whole.frames[12].rgb);
  ro.resume_step_made = 13;  // a state of another chunk is not used
  expect_same(generate_long(p, r, ro).frames, 0, whole.frames);
}

}  // namespace
}  // namespace kinema
