// Flow-matching pieces: timestep shift, LR schedule, batch construction (x_t, velocity, caption
// dropout, conditioning layout), data order and RNG state.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/train.hpp"
#include "train/latent_blur.hpp"

namespace kinema {
namespace {

DiTConfig tiny(int64_t in_dim = 4) {
  DiTConfig c;
  c.dim = 64, c.num_heads = 4, c.num_layers = 2, c.ffn_dim = 128;
  c.in_dim = in_dim, c.out_dim = 4, c.text_dim = 32, c.freq_dim = 32;
  return c;
}

TEST(Flow, ShiftMatchesSd3Formula) {
  EXPECT_FLOAT_EQ(shift_timestep(0.5f, 3.f), 0.75f);  // 1.5 / 2
  EXPECT_FLOAT_EQ(shift_timestep(0.f, 5.f), 0.f);
  EXPECT_FLOAT_EQ(shift_timestep(1.f, 5.f), 1.f);
  EXPECT_FLOAT_EQ(shift_timestep(0.3f, 1.f), 0.3f);
  EXPECT_FLOAT_EQ(resolution_shift(1024, 256), 2.f);
  EXPECT_FLOAT_EQ(resolution_shift(16, 256), 1.f);  // never below 1
}

TEST(Flow, ScheduleWarmsUpLinearlyThenDecaysByCosine) {
  LrSchedule s{1e-3f, 10, 110, 0.1f};
  EXPECT_FLOAT_EQ(s.at(0), 1e-4f);
  EXPECT_FLOAT_EQ(s.at(9), 1e-3f);
  EXPECT_FLOAT_EQ(s.at(10), 1e-3f);
  EXPECT_NEAR(s.at(60), 0.55e-3f, 1e-9f);  // half way down the cosine
  EXPECT_FLOAT_EQ(s.at(110), 1e-4f);
  EXPECT_FLOAT_EQ(s.at(500), 1e-4f);
}

TEST(Flow, BatchIsTheStraightPathAndItsVelocity) {
  SyntheticLatentDataset data;
  std::vector<LatentSample> samples{data.get(0), data.get(1), data.get(2)};
  FlowMatchingOptions o;
  o.caption_dropout = 0;
  TrainRng rng(7);
  FlowBatch b = make_flow_batch(samples, data.empty_context(), 0, tiny(), o, rng);
  ASSERT_EQ(b.x_t.shape(), (Shape{3, 4, 2, 4, 4}));
  ASSERT_EQ(b.context.shape(), (Shape{3, 6, 32}));
  EXPECT_TRUE(b.context_lens.empty());
  EXPECT_FALSE(b.condition.defined());
  std::vector<float> xt = b.x_t.to_vector(), v = b.velocity.to_vector(), ts = b.timesteps.to_vector();
  for (int i = 0; i < 3; ++i) {
    EXPECT_GT(b.t[size_t(i)], 0.f);
    EXPECT_LT(b.t[size_t(i)], 1.f);
    EXPECT_FLOAT_EQ(ts[size_t(i)], 1000.f * b.t[size_t(i)]);
    std::vector<float> x0 = samples[size_t(i)].latent.to_vector();
    for (size_t j = 0; j < x0.size(); ++j)  // x_t = x0 + t (eps - x0)
      EXPECT_NEAR(xt[size_t(i) * 128 + j], x0[j] + b.t[size_t(i)] * v[size_t(i) * 128 + j], 1e-5f);
  }
}

TEST(Flow, CaptionDropoutRateAndPadding) {
  SyntheticLatentDataset data;
  FlowMatchingOptions o;  // 10%
  TrainRng rng(3);
  int dropped = 0, total = 0;
  for (int k = 0; k < 500; ++k) {
    FlowBatch b = make_flow_batch({data.get(0), data.get(1), data.get(2), data.get(3)},
                                  data.empty_context(), 0, tiny(), o, rng);
    dropped += b.dropped_captions(), total += 4;
    if (b.dropped_captions() > 0 && b.dropped_captions() < 4) {  // 1 token, padded to 6 and masked
      ASSERT_EQ(b.context_lens.size(), 4u);
      int ones = 0;
      for (int64_t l : b.context_lens) ones += l == 1;
      EXPECT_EQ(ones, b.dropped_captions());
    }
  }
  EXPECT_NEAR(double(dropped) / total, 0.10, 0.02);
}

TEST(Flow, ConditioningIsMaskThenKnownLatentsOfGivenFrames) {
  SyntheticLatentOptions so;
  so.frames = 4;
  SyntheticLatentDataset data(so);
  FlowMatchingOptions o;
  o.p_none = 0, o.p_first_frame = 1, o.p_first_k = 0, o.p_last_k = 0, o.p_first_and_last = 0,
  o.p_scattered = 0;
  TrainRng rng(5);
  // in_dim 12 = 4 noise + 4 mask + 4 known
  FlowBatch b = make_flow_batch({data.get(0)}, data.empty_context(), 8, tiny(12), o, rng);
  ASSERT_EQ(b.condition.shape(), (Shape{1, 8, 4, 4, 4}));
  EXPECT_EQ(b.patterns[0], ConditionPattern::first_frame);
  std::vector<float> c = b.condition.to_vector(), x0 = data.get(0).latent.to_vector();
  for (int ch = 0; ch < 8; ++ch)
    for (int f = 0; f < 4; ++f)
      for (int p = 0; p < 16; ++p) {
        float got = c[size_t((ch * 4 + f) * 16 + p)];
        float want = f != 0 ? 0.f : ch < 4 ? 1.f : x0[size_t(((ch - 4) * 4 + f) * 16 + p)];
        ASSERT_EQ(got, want) << "channel " << ch << " frame " << f;
      }
  EXPECT_THROW(make_flow_batch({data.get(0)}, data.empty_context(), 2, tiny(6), o, rng), Error);
  // A sample's own conditioning replaces the drawn pattern.
  LatentSample s = data.get(1);
  std::vector<float> fixed(size_t(8 * 4 * 16));
  for (size_t j = 0; j < fixed.size(); ++j) fixed[j] = float(j % 7);
  s.condition = Tensor::from_vector(fixed, {8, 4, 4, 4});
  FlowBatch g = make_flow_batch({s}, data.empty_context(), 8, tiny(12), o, rng);
  EXPECT_EQ(g.patterns[0], ConditionPattern::from_sample);
  EXPECT_EQ(g.condition.to_vector(), fixed);
  s.condition = Tensor::zeros({8, 4, 2, 2});
  EXPECT_THROW(make_flow_batch({s}, data.empty_context(), 8, tiny(12), o, rng), Error);
}

TEST(Flow, ImagesAreNeverGivenAsTheirOwnCondition) {
  SyntheticLatentOptions so;
  so.frames = 1;
  SyntheticLatentDataset data(so);
  FlowMatchingOptions o;
  o.p_none = 0;  // every clip would be conditioned
  TrainRng rng(9);
  for (int k = 0; k < 20; ++k) {
    FlowBatch b = make_flow_batch({data.get(0), data.get(1)}, data.empty_context(), 8, tiny(12), o, rng);
    for (ConditionPattern p : b.patterns) EXPECT_EQ(p, ConditionPattern::none);
    for (float v : b.condition.to_vector()) ASSERT_EQ(v, 0.f);
  }
  so.frames = 4;  // clips still are
  SyntheticLatentDataset clips(so);
  FlowBatch c = make_flow_batch({clips.get(0)}, clips.empty_context(), 8, tiny(12), o, rng);
  EXPECT_NE(c.patterns[0], ConditionPattern::none);
}

TEST(Flow, OutlineBlindSamplesSeeTheirLatentBlurredAndAreTaughtTheSharpOne) {
  SyntheticLatentDataset data;  // latents [4, 2, 4, 4]: 8 planes of 4 x 4
  std::vector<LatentSample> samples{data.get(0), data.get(1), data.get(2)};
  FlowMatchingOptions o;
  o.caption_dropout = 0, o.shift = 1, o.logit_std = 0;
  o.blur_prob = 1, o.blur_min_t = 0.001f, o.blur_sigma_min = o.blur_sigma_max = 1.f;
  for (float logit : {-5.f, 0.f}) {  // t = 0.0067 (x_t is nearly the blurred latent), t = 0.5
    o.logit_mean = logit;
    TrainRng rng(5);
    const FlowBatch b = make_flow_batch(samples, data.empty_context(), 0, tiny(), o, rng);
    EXPECT_EQ(b.blurred, 3);
    const std::vector<float> xt = b.x_t.to_vector(), v = b.velocity.to_vector();
    for (size_t i = 0; i < 3; ++i) {
      const float t = b.t[i];
      const std::vector<float> x0 = samples[i].latent.to_vector();
      std::vector<float> seen = x0;
      gaussian_blur_planes(seen.data(), 8, 4, 4, 1.f);
      double moved = 0, eps_sum = 0, eps_sq = 0;
      for (size_t j = 0; j < x0.size(); ++j) {
        const float x = xt[i * 128 + j];
        EXPECT_NEAR(x - t * v[i * 128 + j], x0[j], 2e-5f * (1 + std::abs(x0[j])));  // sharp clean estimate
        const double eps = (double(x) - (1 - t) * double(seen[j])) / t;
        eps_sum += eps, eps_sq += eps * eps;
        moved = std::max(moved, std::abs(double(seen[j]) - x0[j]));
      }
      EXPECT_GT(moved, 0.1);  // the blur changed what x_t shows
      const double n = double(x0.size()), mean = eps_sum / n, sd = std::sqrt(eps_sq / n - mean * mean);
      EXPECT_LT(std::abs(mean), 0.25) << t;  // x_t is the blurred latent plus unit Gaussian noise
      EXPECT_GT(sd, 0.8) << t;
      EXPECT_LT(sd, 1.2) << t;
    }
  }
  // Below the lowest blurred t nothing changes: the batch is the plain one, draw for draw.
  o.logit_mean = -5, o.blur_min_t = 0.5f;
  TrainRng a(5), c(5);
  const FlowBatch kept = make_flow_batch(samples, data.empty_context(), 0, tiny(), o, a);
  o.blur_prob = 0;
  const FlowBatch plain = make_flow_batch(samples, data.empty_context(), 0, tiny(), o, c);
  EXPECT_EQ(kept.blurred, 0);
  EXPECT_EQ(kept.x_t.to_vector(), plain.x_t.to_vector());
  EXPECT_EQ(kept.velocity.to_vector(), plain.velocity.to_vector());
  o.blur_prob = 1.5f;
  TrainRng d(5);
  EXPECT_THROW(make_flow_batch(samples, data.empty_context(), 0, tiny(), o, d), Error);
  o.blur_prob = 0.5f, o.blur_sigma_min = 3, o.blur_sigma_max = 1;
  EXPECT_THROW(make_flow_batch(samples, data.empty_context(), 0, tiny(), o, d), Error);
}

TEST(Flow, LossWeighsEachPositionOverEveryChannelAndIsThePlainMeanSquareWithout) {
  SyntheticLatentDataset data;  // latents [4, 2, 4, 4]
  std::vector<LatentSample> samples{data.get(0), data.get(1)};
  FlowMatchingOptions o;
  TrainRng rng(3);
  const FlowBatch plain = make_flow_batch(samples, data.empty_context(), 0, tiny(), o, rng);
  EXPECT_FALSE(plain.loss_weight.defined());
  std::vector<float> w0(32), w1(32);
  for (int i = 0; i < 32; ++i) w0[size_t(i)] = 0.5f + 0.05f * float(i), w1[size_t(i)] = 2.f - 0.03f * float(i);
  samples[0].loss_weight = Tensor::from_vector(w0, {2, 4, 4});
  samples[1].loss_weight = Tensor::from_vector(w1, {2, 4, 4});
  TrainRng rng2(3);
  const FlowBatch b = make_flow_batch(samples, data.empty_context(), 0, tiny(), o, rng2);
  ASSERT_EQ(b.loss_weight.shape(), (Shape{2, 4, 2, 4, 4}));
  EXPECT_EQ(b.velocity.to_vector(), plain.velocity.to_vector());  // weights change no draw
  const std::vector<float> w = b.loss_weight.to_vector(), v = b.velocity.to_vector();
  std::vector<float> pred(v.size());
  for (size_t j = 0; j < pred.size(); ++j) pred[j] = std::sin(float(j));
  double expect = 0, plain_expect = 0;
  for (size_t j = 0; j < v.size(); ++j) {
    const size_t i = j / 128, pos = j % 32;  // sample, position within one channel
    EXPECT_EQ(w[j], (i == 0 ? w0 : w1)[pos]);
    const double d = double(pred[j]) - double(v[j]);
    expect += w[j] * d * d, plain_expect += d * d;
  }
  Tensor p = Tensor::from_vector(pred, b.velocity.shape());
  p.set_requires_grad();
  Tensor loss = flow_loss(p, b);
  EXPECT_NEAR(loss.item(), expect / double(v.size()), 1e-5);
  EXPECT_NEAR(flow_loss(Tensor::from_vector(pred, b.velocity.shape()), plain).item(), plain_expect / double(v.size()), 1e-5);
  backward(loss);
  const std::vector<float> g = p.grad().to_vector();  // d/dp of mean(w (p - v)^2) = 2 w (p - v) / N
  for (size_t j = 0; j < g.size(); j += 37)
    EXPECT_NEAR(g[j], 2 * w[j] * (pred[j] - v[j]) / float(v.size()), 1e-7f);
  samples[1].loss_weight = Tensor();
  TrainRng rng3(3);
  EXPECT_THROW(make_flow_batch(samples, data.empty_context(), 0, tiny(), o, rng3), Error);
}

// Layout maps ride along with their samples; a share layout_drop of them is withheld (zeros),
// at about that rate, and none of it moves x_t or the velocity.
TEST(Flow, LayoutsAreBatchedAndWithheldAtTheDropRateWithoutChangingOtherDraws) {
  SyntheticLatentDataset data;  // latents [4, 2, 4, 4]
  std::vector<LatentSample> samples;
  for (int i = 0; i < 8; ++i) {
    samples.push_back(data.get(i));
    std::vector<float> l(3 * 32);
    for (size_t j = 0; j < l.size(); ++j) l[j] = 1.f + float(i) + 0.01f * float(j);  // never zero
    samples.back().layout = Tensor::from_vector(l, {3, 2, 4, 4});
  }
  std::vector<LatentSample> bare = samples;
  for (LatentSample& s : bare) s.layout = Tensor();
  FlowMatchingOptions o;
  o.layout_drop = 0;
  TrainRng a(4), z(4);
  const FlowBatch kept = make_flow_batch(samples, data.empty_context(), 0, tiny(), o, a);
  const FlowBatch plain = make_flow_batch(bare, data.empty_context(), 0, tiny(), o, z);
  EXPECT_FALSE(plain.layout.defined());
  ASSERT_EQ(kept.layout.shape(), (Shape{8, 3, 2, 4, 4}));
  EXPECT_EQ(kept.dropped_layouts, 0);
  const std::vector<float> l = kept.layout.to_vector();
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(std::vector<float>(l.begin() + i * 96, l.begin() + (i + 1) * 96), samples[i].layout.to_vector());
  EXPECT_EQ(kept.x_t.to_vector(), plain.x_t.to_vector());
  o.layout_drop = 0.5f;
  int dropped = 0, total = 0;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    TrainRng r(seed), q(seed);
    const FlowBatch b = make_flow_batch(samples, data.empty_context(), 0, tiny(), o, r);
    const FlowBatch c = make_flow_batch(bare, data.empty_context(), 0, tiny(), o, q);
    EXPECT_EQ(b.velocity.to_vector(), c.velocity.to_vector());
    EXPECT_EQ(b.dropped, c.dropped);  // caption dropout draws as before
    const std::vector<float> v = b.layout.to_vector();
    int zeros = 0;
    for (size_t i = 0; i < 8; ++i) zeros += std::all_of(v.begin() + i * 96, v.begin() + (i + 1) * 96, [](float x) { return x == 0; });
    EXPECT_EQ(zeros, b.dropped_layouts);
    dropped += zeros, total += 8;
  }
  EXPECT_NEAR(double(dropped) / total, 0.5, 0.08);
  o.layout_drop = 1.5f;
  TrainRng d(4);
  EXPECT_THROW(make_flow_batch(samples, data.empty_context(), 0, tiny(), o, d), Error);
  o.layout_drop = 0;
  samples[3].layout = Tensor();
  EXPECT_THROW(make_flow_batch(samples, data.empty_context(), 0, tiny(), o, d), Error);
  samples[3].layout = Tensor::zeros({3, 1, 4, 4});
  EXPECT_THROW(make_flow_batch(samples, data.empty_context(), 0, tiny(), o, d), Error);
}

TEST(Flow, DataOrderIsAPermutationPerEpochAndSeekable) {
  DataOrder a(8, 11);
  std::vector<int64_t> first;
  for (int i = 0; i < 24; ++i) first.push_back(a.next());
  for (int e = 0; e < 3; ++e) {
    std::vector<int> seen(8, 0);
    for (int i = 0; i < 8; ++i) ++seen[size_t(first[size_t(e * 8 + i)])];
    for (int s : seen) EXPECT_EQ(s, 1);
  }
  DataOrder b(8, 11);
  b.seek(13);
  for (int i = 13; i < 24; ++i) EXPECT_EQ(b.next(), first[size_t(i)]);
}

TEST(Flow, RngRestoresExactly) {
  TrainRng a(42);
  for (int i = 0; i < 10; ++i) a.normal();
  TrainRng b(0);
  b.restore(a.state(), a.inc());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.normal(), b.normal());
}

}  // namespace
}  // namespace kinema
