// The frame-conditioning tensor (docs/conditioning.md, docs/modes.md): mask channels in Wan
// I2V's layout and known latents, each checked element-wise against a hand-built expectation,
// and the paste-back of given latent frames after sampling.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "kinema/error.hpp"
#include "kinema/pipeline.hpp"

namespace fs = std::filesystem;

namespace kinema {
fs::path tiny_bundle();  // tests/common/tiny_bundle.cpp
namespace {

constexpr int kW = 32, kH = 32, kFrames = 9, kT = 3, kC = 4, kK = 4, kPlane = (kW / 8) * (kH / 8);

Frame noise_frame(uint32_t seed) {
  Frame f{kW, kH, std::vector<uint8_t>(size_t(kW * kH * 3))};
  uint32_t s = seed * 2654435761u + 1;
  for (auto& b : f.rgb) s = s * 1664525u + 1013904223u, b = uint8_t(s >> 24);
  return f;
}
Frame grey() { return Frame{kW, kH, std::vector<uint8_t>(size_t(kW * kH * 3), 128)}; }

// value of a [1, ch, T, h*w] vector at (channel, latent frame, pixel)
float at(const std::vector<float>& v, int T, int ch, int j, int p) { return v[size_t((ch * T + j) * kPlane + p)]; }

// Checks the condition tensor of `known` against mask[K][T'] and, for the latent frames in
// `known_latent` (frame j -> the expected [1, C, T'', h, w] latent and its frame index there),
// the known channels; every other known channel must be 0.
void expect_condition(const Pipeline& p, const std::vector<KnownFrame>& known, const float (&mask)[kK][kT],
                      const std::vector<std::pair<int, std::pair<Tensor, int>>>& known_latent) {
  const Tensor c = p.condition_tensor(known, kFrames, kW, kH);
  ASSERT_EQ(c.shape(), (Shape{1, kK + kC, kT, kH / 8, kW / 8}));
  const std::vector<float> v = c.to_vector();
  for (int k = 0; k < kK; ++k)
    for (int j = 0; j < kT; ++j)
      for (int q = 0; q < kPlane; ++q) ASSERT_EQ(at(v, kT, k, j, q), mask[k][j]) << "mask " << k << " frame " << j;
  for (int j = 0; j < kT; ++j) {
    const Tensor* want = nullptr;
    int jj = 0;
    for (const auto& [frame, lat] : known_latent)
      if (frame == j) want = &lat.first, jj = lat.second;
    std::vector<float> w = want ? want->to_vector() : std::vector<float>();
    const int Tw = want ? int(want->shape()[2]) : 0;
    for (int ch = 0; ch < kC; ++ch)
      for (int q = 0; q < kPlane; ++q) {
        const float expected = want ? at(w, Tw, ch, jj, q) : 0.f;
        ASSERT_NEAR(at(v, kT, kK + ch, j, q), expected, 1e-5f) << "known ch " << ch << " frame " << j;
      }
  }
}

TEST(Condition, MaskFollowsWanI2VLayout) {
  // 9 frames, 3 latent frames: latent 0 = frame 0; latent 1 = frames 1-4; latent 2 = frames 5-8.
  EXPECT_EQ(condition_mask({0}, 9, 4), (std::vector<float>{1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0}));
  EXPECT_EQ(condition_mask({8}, 9, 4), (std::vector<float>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(condition_mask({2, 5}, 9, 4), (std::vector<float>{0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_THROW(condition_mask({9}, 9, 4), Error);
  EXPECT_THROW(condition_mask({0}, 8, 4), Error);
}

TEST(Condition, ImageIsLatentFrameZeroWithAllFourMaskChannels) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  const Frame img = noise_frame(1);
  const float mask[kK][kT] = {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}, {1, 0, 0}};
  // The causal VAE encodes frame 0 alone: the image's own one-frame latent.
  expect_condition(p, {{0, img}}, mask, {{0, {p.encode_frames({img}), 0}}});
}

TEST(Condition, LastImageMarksOneChannelOfTheLastLatentFrame) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  const Frame img = noise_frame(2);
  std::vector<Frame> clip(kFrames, grey());
  clip[8] = img;
  const float mask[kK][kT] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 1}};  // frame 8 = 4(2-1)+1+3
  expect_condition(p, {{8, img}}, mask, {{2, {p.encode_frames(clip), 2}}});
}

TEST(Condition, FirstKLatentFramesAreTheEncodedPrefix) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  std::vector<Frame> prefix;
  std::vector<KnownFrame> known;
  for (int i = 0; i < 5; ++i) prefix.push_back(noise_frame(10 + i)), known.push_back({i, prefix.back()});
  const float mask[kK][kT] = {{1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}};
  const Tensor want = p.encode_frames(prefix);  // causal: the prefix alone
  expect_condition(p, known, mask, {{0, {want, 0}}, {1, {want, 1}}});
}

TEST(Condition, LastKLatentFramesComeFromTheClipWithGreyElsewhere) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  std::vector<Frame> clip(kFrames, grey());
  std::vector<KnownFrame> known;
  for (int i = 1; i < kFrames; ++i) clip[size_t(i)] = noise_frame(20 + i), known.push_back({i, clip[size_t(i)]});
  const float mask[kK][kT] = {{0, 1, 1}, {0, 1, 1}, {0, 1, 1}, {0, 1, 1}};
  const Tensor want = p.encode_frames(clip);
  expect_condition(p, known, mask, {{1, {want, 1}}, {2, {want, 2}}});
}

TEST(Condition, FirstAndLast) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  std::vector<Frame> clip(kFrames, grey());
  std::vector<KnownFrame> known{{0, noise_frame(30)}};
  clip[0] = known[0].frame;
  for (int i = 5; i < kFrames; ++i) clip[size_t(i)] = noise_frame(30 + i), known.push_back({i, clip[size_t(i)]});
  const float mask[kK][kT] = {{1, 0, 1}, {1, 0, 1}, {1, 0, 1}, {1, 0, 1}};
  const Tensor want = p.encode_frames(clip);
  expect_condition(p, known, mask, {{0, {p.encode_frames({clip[0]}), 0}}, {2, {want, 2}}});
}

// Max |a - b| over latent frames [j0, j1) of two [1, C, T', h, w] latents.
double max_diff(const Tensor& a, const Tensor& b, int j0, int j1) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  const int Ta = int(a.shape()[2]), Tb = int(b.shape()[2]);
  double m = 0;
  for (int ch = 0; ch < kC; ++ch)
    for (int j = j0; j < j1; ++j)
      for (int q = 0; q < kPlane; ++q) m = std::max(m, double(std::abs(at(x, Ta, ch, j, q) - at(y, Tb, ch, j, q))));
  return m;
}

TEST(Condition, PastedBackLatentsEqualTheEncodedInputAndTheConditionReachesTheModel) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.frames = kFrames, r.steps = 2, r.seed = 5, r.threads = 1;
  r.keep_latent = true;
  std::vector<Frame> prefix;
  for (int i = 0; i < 5; ++i) prefix.push_back(noise_frame(40 + i)), r.known.push_back({i, prefix.back()});
  const Tensor encoded = p.encode_frames(prefix);  // latent frames 0, 1
  GenerateResult pasted = p.generate(r);
  EXPECT_EQ(pasted.peak_latent_frames, kT);
  EXPECT_LT(max_diff(pasted.latent, encoded, 0, 2), 1e-6);
  r.paste_known = false;
  GenerateResult free = p.generate(r);
  EXPECT_GT(max_diff(free.latent, encoded, 0, 2), 1e-3);  // the model's own guess differs
  // The given frames change what is generated where nothing is given (the DiT reads them).
  GenerateRequest t2v = r;
  t2v.known.clear();
  EXPECT_GT(max_diff(free.latent, p.generate(t2v).latent, 2, 3), 1e-4);
  // Given frames must be the clip's size and inside it.
  r.known = {{9, prefix[0]}};
  EXPECT_THROW(p.generate(r), Error);
  r.known = {{0, Frame{16, 16, std::vector<uint8_t>(16 * 16 * 3)}}};
  EXPECT_THROW(p.generate(r), Error);
}

}  // namespace
}  // namespace kinema
