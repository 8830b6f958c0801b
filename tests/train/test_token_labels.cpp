// The shape-label loss: targets per token (patch averages), the loss and its gradient against
// their closed forms, and the trainer: the loss reaches exactly the blocks up to its own and
// trains the probed channels.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/train.hpp"
#include "train/token_labels.hpp"

namespace kinema {
namespace {

// A labelled sample [C, 2, 4, 4] whose label at (t, y, x) is the one-hot of (t + y + x) % K.
LatentSample labelled(int64_t K, int64_t T = 2, int64_t H = 4, int64_t W = 4) {
  LatentSample s;
  s.latent = Tensor::zeros({2, T, H, W});
  std::vector<float> l(size_t(T * H * W * K), 0.f);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) l[size_t(((t * H + y) * W + x) * K + (t + y + x) % K)] = 1.f;
  s.token_labels = Tensor::from_vector(l, {T, H, W, K});
  return s;
}

TEST(TokenLabels, TargetsAverageTheLabelsOverEachPatchInTokenOrder) {
  const std::vector<LatentSample> batch = {labelled(3), labelled(3)};
  const Tensor fine = batch_token_targets(batch, {1, 1, 1});
  ASSERT_EQ(fine.shape(), (Shape{2, 32, 3}));
  std::vector<float> want = batch[0].token_labels.to_vector();
  std::vector<float> got = fine.to_vector();
  EXPECT_EQ(std::vector<float>(got.begin(), got.begin() + 96), want);
  const Tensor coarse = batch_token_targets(batch, {1, 2, 2});  // 2 x 2 x 2 tokens of 4 positions
  ASSERT_EQ(coarse.shape(), (Shape{2, 8, 3}));
  got = coarse.to_vector();
  // Token (t 1, h 0, w 1) covers (y, x) in {0, 1} x {2, 3} of frame 1: sums 3, 4, 4, 5 -> classes 0, 1, 1, 2.
  const float* tok = got.data() + (1 * 4 + 0 * 2 + 1) * 3;
  EXPECT_FLOAT_EQ(tok[0], 0.25f);
  EXPECT_FLOAT_EQ(tok[1], 0.5f);
  EXPECT_FLOAT_EQ(tok[2], 0.25f);
  for (int64_t n = 0; n < 16; ++n) EXPECT_NEAR(got[size_t(n * 3)] + got[size_t(n * 3 + 1)] + got[size_t(n * 3 + 2)], 1.f, 1e-6f);
  EXPECT_FALSE(batch_token_targets({LatentSample{Tensor::zeros({2, 2, 4, 4})}}, {1, 2, 2}).defined());
}

TEST(TokenLabels, MissingOrMisshapenLabelsAreRefused) {
  LatentSample bare;
  bare.latent = Tensor::zeros({2, 2, 4, 4});
  EXPECT_THROW(batch_token_targets({labelled(3), bare}, {1, 2, 2}), Error);        // some without
  EXPECT_THROW(batch_token_targets({labelled(3), labelled(4)}, {1, 2, 2}), Error);  // another K
  LatentSample wrong = labelled(3, 2, 4, 2);
  wrong.latent = Tensor::zeros({2, 2, 4, 4});
  EXPECT_THROW(batch_token_targets({wrong}, {1, 2, 2}), Error);  // not the latent's grid
  EXPECT_THROW(batch_token_targets({labelled(3, 2, 4, 4)}, {1, 3, 2}), Error);  // patch does not divide
  EXPECT_THROW(token_label_loss(Tensor::zeros({1, 4, 2}), Tensor::zeros({1, 4, 3})), Error);  // K > D
  EXPECT_THROW(token_label_loss(Tensor::zeros({1, 4, 5}), Tensor::zeros({1, 3, 3})), Error);
}

TEST(TokenLabels, LossAndGradientAreTheSoftCrossEntropyOfTheFirstKChannels) {
  const int64_t B = 2, N = 3, D = 5, K = 3;
  std::vector<float> h(size_t(B * N * D)), p(size_t(B * N * K));
  for (size_t i = 0; i < h.size(); ++i) h[i] = float(std::sin(1.7 * double(i) + 0.3)) * 2.f;
  for (int64_t n = 0; n < B * N; ++n) {
    double a = 1 + n % 2, b = 2 + n % 3, c = 0.5 + n % 5, s = a + b + c;
    p[size_t(n * K)] = float(a / s), p[size_t(n * K + 1)] = float(b / s), p[size_t(n * K + 2)] = float(c / s);
  }
  Tensor hidden = Tensor::from_vector(h, {B, N, D});
  hidden.set_requires_grad(true);
  Tensor loss = token_label_loss(hidden, Tensor::from_vector(p, {B, N, K}));
  backward(loss);
  const std::vector<float> g = hidden.grad().to_vector();
  double want = 0;
  for (int64_t n = 0; n < B * N; ++n) {
    const float* x = h.data() + n * D;
    const double m = std::max({x[0], x[1], x[2]});
    const double z = std::exp(x[0] - m) + std::exp(x[1] - m) + std::exp(x[2] - m);
    for (int64_t k = 0; k < K; ++k) {
      const double logp = x[k] - m - std::log(z), q = p[size_t(n * K + k)];
      want -= q * logp / double(B * N);
      // d/dx_k = (softmax_k - q_k) / (B N); channels past K get nothing.
      EXPECT_NEAR(g[size_t(n * D + k)], (std::exp(logp) - q) / double(B * N), 1e-6) << n << " " << k;
    }
    for (int64_t k = K; k < D; ++k) EXPECT_EQ(g[size_t(n * D + k)], 0.f);
  }
  EXPECT_NEAR(loss.item(), want, 1e-5);
}

// SyntheticLatentDataset's samples with labels that follow the clean latent: the class of a
// position is its first channel's value in thirds (so a DiT can learn them from x_t).
class LabelledLatents final : public LatentDataset {
 public:
  explicit LabelledLatents(bool labels) : labels_(labels) {}
  int64_t size() const override { return data_.size(); }
  Tensor empty_context() const override { return data_.empty_context(); }
  LatentSample get(int64_t index) const override {
    LatentSample s = data_.get(index);
    if (!labels_) return s;
    const Shape& l = s.latent.shape();  // [C, T, H, W]
    const int64_t plane = l[1] * l[2] * l[3];
    const std::vector<float> v = s.latent.to_vector();
    std::vector<float> lab(size_t(plane * 3), 0.f);
    for (int64_t i = 0; i < plane; ++i) lab[size_t(i * 3 + (v[size_t(i)] < -0.4f ? 0 : v[size_t(i)] < 0.4f ? 1 : 2))] = 1.f;
    s.token_labels = Tensor::from_vector(lab, {l[1], l[2], l[3], 3});
    return s;
  }

 private:
  SyntheticLatentDataset data_;
  bool labels_;
};

DiTConfig tiny() {
  DiTConfig c;
  c.dim = 64, c.num_heads = 4, c.num_layers = 2, c.ffn_dim = 128;
  c.in_dim = 4, c.out_dim = 4, c.text_dim = 32, c.freq_dim = 32;
  c.patch_size = {1, 1, 1};
  return c;
}

TrainerOptions options(float label_weight) {
  TrainerOptions o;
  o.batch_size = 4;
  o.lr = LrSchedule{5e-3f, 1, 100, 0.1f};
  o.clip_norm = 0;  // clipping would couple every weight's update to the label loss
  o.seed = 3;
  o.label_weight = label_weight;
  o.label_block = 0;
  return o;
}

TEST(TokenLabels, TheLossReachesTheBlocksUpToItsOwnAndNoneAfter) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  LabelledLatents data(true);
  DiT plain = DiT::init_random(tiny(), 1), probed = DiT::init_random(tiny(), 1);
  DiTTrainer a(plain, data, options(0)), b(probed, data, options(1));
  a.step(), b.step();
  int after = 0, upto = 0;
  for (const auto& [name, w] : plain.weights()) {
    const bool same = w.to_vector() == probed.weight(name).to_vector();
    if (name.rfind("blocks.1.", 0) == 0 || name.rfind("head.", 0) == 0) {
      EXPECT_TRUE(same) << name << " is after the probed block but its update changed";
      ++after;
    } else if (name.rfind("blocks.0.", 0) == 0 && !same) {
      ++upto;
    }
  }
  EXPECT_GT(after, 5);
  EXPECT_GT(upto, 5) << "the label loss did not reach block 0";
}

TEST(TokenLabels, TrainingTeachesTheProbedChannelsTheLabels) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  LabelledLatents data(true);
  DiT model = DiT::init_random(tiny(), 2);
  // The label loss of fixed batches (t = 0.3, fixed noise) through the model's block 0.
  auto probe = [&] {
    NoGradGuard ng;
    TrainRng rng(7, 1);
    double total = 0;
    for (int64_t i = 0; i < data.size(); i += 4) {
      std::vector<LatentSample> s;
      for (int64_t j = i; j < i + 4; ++j) s.push_back(data.get(j));
      FlowMatchingOptions fm;
      fm.caption_dropout = 0, fm.logit_mean = -0.85f, fm.logit_std = 0, fm.shift = 1;  // t = 0.3
      FlowBatch fb = make_flow_batch(s, data.empty_context(), 0, model.config(), fm, rng);
      std::map<std::string, Tensor> trace;
      DiTForwardOptions fo;
      fo.trace = &trace;
      model.forward(fb.x_t, fb.timesteps, fb.context, fo);
      total += token_label_loss(trace.at("blocks.0"), fb.token_targets).item();
    }
    return total;
  };
  const double before = probe();
  DiTTrainer trainer(model, data, options(1));
  for (int i = 0; i < 60; ++i) trainer.step();
  const double after = probe();
  std::printf("label loss at t = 0.3: %.4f before, %.4f after 60 steps\n", before, after);
  EXPECT_LT(after, 0.6 * before);
}

TEST(TokenLabels, TheTrainerRefusesALabelLossWithoutLabelsOrBlock) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  LabelledLatents bare(false);
  DiT model = DiT::init_random(tiny(), 1);
  DiTTrainer no_labels(model, bare, options(1));
  EXPECT_THROW(no_labels.step(), Error);
  TrainerOptions o = options(1);
  o.label_block = 2;  // the model has blocks 0 and 1
  EXPECT_THROW(DiTTrainer(model, bare, o), Error);
  o = options(-1);
  EXPECT_THROW(DiTTrainer(model, bare, o), Error);
}

}  // namespace
}  // namespace kinema
