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

TEST(Modes, FadeSeamCarriesTheDecodesErrorIntoTheNewFramesAndFadesItOut) {
  const Frame given{2, 1, {100, 100, 100, 255, 0, 10}}, decoded{2, 1, {90, 110, 100, 0, 255, 10}};
  std::vector<Frame> v(6, Frame{2, 1, {50, 50, 50, 250, 5, 50}});
  fade_seam(given, decoded, v.begin(), 6, true, 4);  // weights 4/5, 3/5, 2/5, 1/5, 0, 0
  const int want_r[] = {58, 56, 54, 52, 50, 50};
  for (int j = 0; j < 6; ++j) {
    EXPECT_EQ(v[size_t(j)].rgb[0], want_r[j]) << j;
    EXPECT_EQ(v[size_t(j)].rgb[1], 100 - want_r[j]) << j;  // a negative error fades the same way
    EXPECT_EQ(v[size_t(j)].rgb[2], 50) << j;               // no error, no change
    EXPECT_EQ(v[size_t(j)].rgb[5], 50) << j;
  }
  EXPECT_EQ(v[0].rgb[3], 255);  // clamped
  EXPECT_EQ(v[0].rgb[4], 0);
  std::vector<Frame> w(3, Frame{2, 1, {50, 50, 50, 50, 50, 50}});
  fade_seam(given, decoded, w.begin(), 3, false, 2);  // backward: the last frame is nearest the seam
  EXPECT_EQ(w[2].rgb[0], 57);                           // 50 + 10 x 2/3
  EXPECT_EQ(w[1].rgb[0], 53);                           // 50 + 10 x 1/3
  EXPECT_EQ(w[0].rgb[0], 50);
  EXPECT_THROW(fade_seam(given, decoded, w.begin(), 3, true, -1), Error);
  EXPECT_THROW(fade_seam(given, Frame{1, 1, {0, 0, 0}}, w.begin(), 3, true, 2), Error);
}

// Each mode's new frames: the first `fade` next to a seam take the decode's error, the rest
// are the same as without fading, and the jump from the kept frames into the new ones shrinks.
TEST(Modes, SeamFadeSmoothsEveryCutFromKeptFramesIntoNewOnes) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  const std::vector<Frame> in = clip(9, 5), b = clip(8, 6);
  ModeOptions off = k1(), on = k1();
  off.seam_fade = 0, on.seam_fade = 2;
  const ModeResult f0 = extend_video(p, in, request(), 8, false, off);
  const ModeResult f1 = extend_video(p, in, request(), 8, false, on);
  expect_same(f1.frames, 0, in);
  expect_same(f1.frames, 11, std::vector<Frame>(f0.frames.begin() + 11, f0.frames.end()));
  EXPECT_LT(mean_abs_diff(in.back(), f1.frames[9]), 0.8 * mean_abs_diff(in.back(), f0.frames[9]));
  const ModeResult b0 = extend_video(p, in, request(), 5, true, off), b1 = extend_video(p, in, request(), 5, true, on);
  expect_same(b1.frames, 0, std::vector<Frame>(b0.frames.begin(), b0.frames.begin() + 3));
  EXPECT_LT(mean_abs_diff(b1.frames[4], in.front()), 0.8 * mean_abs_diff(b0.frames[4], in.front()));
  const ModeResult j0 = join_videos(p, in, b, request(), 8, off), j1 = join_videos(p, in, b, request(), 8, on);
  expect_same(j1.frames, 11, std::vector<Frame>(j0.frames.begin() + 11, j0.frames.begin() + 15));
  EXPECT_LT(mean_abs_diff(in.back(), j1.frames[9]), 0.8 * mean_abs_diff(in.back(), j0.frames[9]));
  EXPECT_LT(mean_abs_diff(j1.frames[16], b.front()), 0.8 * mean_abs_diff(j0.frames[16], b.front()));
  // A long extension: every chunk seam, kept frames then on, fades too.
  const ModeResult l0 = extend_video(p, in, request(), 12, false, off);
  const ModeResult l1 = extend_video(p, in, request(), 12, false, on);
  EXPECT_EQ(l1.seams, (std::vector<int>{9, 13, 17}));
  EXPECT_LT(mean_abs_diff(in.back(), l1.frames[9]), 0.8 * mean_abs_diff(in.back(), l0.frames[9]));
}

TEST(Modes, GuidanceRampChangesTheGuidedFramesAndNothingWithoutGuidance) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  const std::vector<Frame> in = clip(9, 7);
  ModeOptions off = k1(), on = k1();
  off.guidance_ramp = 0, on.guidance_ramp = 3;
  GenerateRequest r = request();
  r.cfg = 1;  // no guidance: nothing to ramp
  EXPECT_EQ(extend_video(p, in, r, 8, false, off).frames[12].rgb, extend_video(p, in, r, 8, false, on).frames[12].rgb);
  r.cfg = 6;
  const ModeResult a = extend_video(p, in, r, 8, false, off), b = extend_video(p, in, r, 8, false, on);
  expect_same(b.frames, 0, in);
  EXPECT_NE(a.frames[12].rgb, b.frames[12].rgb);
  on.guidance_ramp = -1;
  EXPECT_THROW(extend_video(p, in, r, 8, false, on), Error);
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
