// Training the text encoder with the DiT: captions as token ids, the flow loss's gradient
// reaching the encoder (checked by finite differences), resume, and the joint checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

constexpr int32_t kEos = 1;

DiTConfig tiny_dit() {
  DiTConfig c;
  c.dim = 32, c.num_heads = 2, c.num_layers = 1, c.ffn_dim = 64;
  c.in_dim = 4, c.out_dim = 4, c.text_dim = 16, c.freq_dim = 32;
  return c;
}

TextEncoderConfig tiny_text() {
  TextEncoderConfig c;
  c.vocab_size = 12, c.dim = 16, c.dim_attn = 16, c.ffn_dim = 32, c.num_heads = 2, c.num_layers = 1;
  c.num_buckets = 8, c.max_distance = 16;
  return c;
}

// Two captions of different lengths; the latent's sign is the caption's: only the text says
// which sign a sample has, so a model that lowers the loss must read it.
class TwoCaptionData final : public LatentDataset {
 public:
  int64_t size() const override { return 8; }
  LatentSample get(int64_t index) const override {
    LatentSample s;
    const bool positive = index % 2 == 0;
    std::vector<float> v(4 * 2 * 4 * 4);
    for (size_t i = 0; i < v.size(); ++i) v[i] = (positive ? 1.f : -1.f) * (0.5f + 0.1f * float(i % 5));
    s.latent = Tensor::from_vector(v, {4, 2, 4, 4});
    s.caption_ids = positive ? std::vector<int32_t>{5, 7, kEos} : std::vector<int32_t>{6, 8, 9, 3, kEos};
    return s;
  }
  Tensor empty_context() const override { return Tensor(); }
  std::vector<int32_t> empty_caption_ids() const override { return {kEos}; }
};

TrainerOptions options(int64_t steps) {
  TrainerOptions o;
  o.batch_size = 4;
  o.lr = LrSchedule{5e-3f, 3, steps, 0.1f};
  o.adamw.weight_decay = 0.f;
  o.ema_decay = 0.9f;
  o.seed = 5;
  return o;
}

fs::path temp_dir(const char* name) {
  fs::path p = fs::temp_directory_path() / (std::string("kinema_joint_") + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

TEST(JointTextTraining, FlowBatchGivesCaptionIdsWithTheEmptyCaptionForDroppedOnes) {
  TwoCaptionData data;
  std::vector<LatentSample> samples = {data.get(0), data.get(1), data.get(2)};
  FlowMatchingOptions keep;
  keep.caption_dropout = 0.f;
  TrainRng rng(1, 2);
  FlowBatch b = make_flow_batch(samples, Tensor(), 0, tiny_dit(), keep, rng, {kEos});
  EXPECT_FALSE(b.context.defined());
  ASSERT_EQ(b.captions.batch, 3);
  ASSERT_EQ(b.captions.length, 5);
  EXPECT_EQ(b.captions.lengths, (std::vector<int64_t>{3, 5, 3}));
  EXPECT_EQ(std::vector<int32_t>(b.captions.ids.begin() + 5, b.captions.ids.begin() + 10),
            (std::vector<int32_t>{6, 8, 9, 3, kEos}));
  EXPECT_EQ(std::vector<int32_t>(b.captions.mask.begin(), b.captions.mask.begin() + 5),
            (std::vector<int32_t>{1, 1, 1, 0, 0}));

  FlowMatchingOptions drop;
  drop.caption_dropout = 1.f;
  TrainRng rng2(1, 2);
  FlowBatch d = make_flow_batch(samples, Tensor(), 0, tiny_dit(), drop, rng2, {kEos});
  EXPECT_EQ(d.dropped_captions(), 3);
  EXPECT_EQ(d.captions.length, 1);
  EXPECT_EQ(d.captions.ids, (std::vector<int32_t>{kEos, kEos, kEos}));
  EXPECT_EQ(d.t, b.t);  // the draws do not depend on what the dropout picked

  EXPECT_THROW(make_flow_batch(samples, Tensor(), 0, tiny_dit(), keep, rng, {}), Error);
}

// d loss / d (one token embedding entry) through DiT and encoder, against central differences.
TEST(JointTextTraining, GradientReachesTheEncoderAndMatchesFiniteDifferences) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  TwoCaptionData data;
  DiT dit = DiT::init_random(tiny_dit(), 2, DiTInit::random);  // Wan's zero head would give no gradient
  TextEncoder text = TextEncoder::init_random(tiny_text(), 3, TextEncoderInit::random);
  FlowMatchingOptions fm;
  fm.caption_dropout = 0.f;
  TrainRng rng(7, 1);
  FlowBatch b = make_flow_batch({data.get(0), data.get(1)}, Tensor(), 0, tiny_dit(), fm, rng, {kEos});
  auto loss = [&] {
    DiTForwardOptions fo;
    fo.context_lens = b.captions.lengths;
    return mse_loss(dit.forward(b.x_t, b.timesteps, text.forward(b.captions), fo), b.velocity);
  };
  backward(loss());
  const Tensor& emb = text.weight("token_embedding.weight");
  std::vector<float> g = emb.grad().to_vector();
  const int64_t dim = tiny_text().dim;
  float* w = emb.data<float>();
  for (int64_t token : {5, 8}) {  // one from each caption; unused tokens get no gradient
    for (int64_t j : {0, 7}) {
      const int64_t k = token * dim + j;
      const float saved = w[k], h = 1e-2f;
      NoGradGuard no_grad;
      w[k] = saved + h;
      const double up = loss().item();
      w[k] = saved - h;
      const double down = loss().item();
      w[k] = saved;
      const double fd = (up - down) / (2.0 * h);
      EXPECT_NEAR(g[size_t(k)], fd, 2e-3 + 3e-2 * std::fabs(fd)) << "token " << token << " dim " << j;
    }
    EXPECT_GT(std::fabs(g[size_t(token * dim)]) + std::fabs(g[size_t(token * dim + 1)]), 0.f);
  }
  for (int64_t j = 0; j < dim; ++j) EXPECT_EQ(g[size_t(10 * dim + j)], 0.f) << "token 10 is in no caption";
}

// The encoder's weights move, and the trained pair reads the caption: predicting with the
// right caption beats predicting with the other one.
TEST(JointTextTraining, TrainsTheEncoderAndTheModelFollowsTheCaption) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  TwoCaptionData data;
  DiT dit = DiT::init_random(tiny_dit(), 2);
  TextEncoder text = TextEncoder::init_random(tiny_text(), 3);
  const std::vector<float> before = text.weight("token_embedding.weight").to_vector();
  DiTTrainer trainer(dit, data, options(80), &text);
  for (int i = 0; i < 80; ++i) trainer.step();
  EXPECT_NE(text.weight("token_embedding.weight").to_vector(), before);

  NoGradGuard no_grad;
  auto loss_with = [&](const std::vector<int32_t>& ids, int64_t index) {
    LatentSample s = data.get(index);
    s.caption_ids = ids;
    FlowMatchingOptions fm;
    fm.caption_dropout = 0.f;
    fm.shift = 1.f;
    double total = 0;
    for (uint64_t seed = 0; seed < 8; ++seed) {
      TrainRng rng(seed, 9);
      FlowBatch b = make_flow_batch({s}, Tensor(), 0, tiny_dit(), fm, rng, {kEos});
      total += mse_loss(dit.forward(b.x_t, b.timesteps, text.forward(b.captions)), b.velocity).item();
    }
    return total / 8;
  };
  const std::vector<int32_t> pos = data.get(0).caption_ids, neg = data.get(1).caption_ids;
  for (int64_t index : {0, 1, 2, 3}) {
    const bool positive = index % 2 == 0;
    const double right = loss_with(positive ? pos : neg, index), wrong = loss_with(positive ? neg : pos, index);
    EXPECT_LT(right * 1.5, wrong) << "sample " << index << ": right caption " << right << ", wrong " << wrong;
  }
}

TEST(JointTextTraining, ResumeGivesTheSameLossesAndBothModelsBitForBit) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  TwoCaptionData data;
  const fs::path dir = temp_dir("resume");
  std::vector<float> straight, resumed;
  DiT a = DiT::init_random(tiny_dit(), 2);
  TextEncoder ta = TextEncoder::init_random(tiny_text(), 3);
  {
    DiTTrainer t(a, data, options(6), &ta);
    for (int i = 0; i < 6; ++i) straight.push_back(t.step().loss);
  }
  DiT b = DiT::init_random(tiny_dit(), 2);
  TextEncoder tb = TextEncoder::init_random(tiny_text(), 3);
  {
    DiTTrainer t(b, data, options(6), &tb);
    for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
    t.save(dir.string());
  }
  DiT c = DiT::init_random(tiny_dit(), 11);  // different weights: load must restore both models
  TextEncoder tc = TextEncoder::init_random(tiny_text(), 12);
  DiTTrainer t(c, data, options(6), &tc);
  t.load(dir.string());
  for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
  EXPECT_EQ(straight, resumed);
  EXPECT_EQ(a.to_tensors().tensors.at("head.head.weight").to_vector(),
            c.to_tensors().tensors.at("head.head.weight").to_vector());
  for (const auto& [key, w] : ta.weights()) EXPECT_EQ(w.to_vector(), tc.weight(key).to_vector()) << key;

  // A DiT-only trainer refuses the joint checkpoint (its format differs).
  DiT d = DiT::init_random(tiny_dit(), 2);
  SyntheticLatentDataset synthetic(SyntheticLatentOptions{8, 4, 2, 4, 4, 6, 16, 1});
  DiTTrainer plain(d, synthetic, options(6));
  EXPECT_THROW(plain.load(dir.string()), Error);
  fs::remove_all(dir);
}

TEST(JointTextTraining, CheckpointSplitsIntoADiTAndATextEncoderThatLoad) {
  TwoCaptionData data;
  DiT dit = DiT::init_random(tiny_dit(), 2);
  TextEncoder text = TextEncoder::init_random(tiny_text(), 3);
  DiTTrainer trainer(dit, data, options(2), &text);
  trainer.step();
  const fs::path dir = temp_dir("split");
  const std::string ck = trainer.save(dir.string());
  auto [d, t] = split_text_encoder(load_tensors(ck + "/ema.safetensors"));
  EXPECT_EQ(d.tensors.size(), dit.to_tensors().tensors.size());
  EXPECT_EQ(t.tensors.size(), text.weights().size());
  EXPECT_EQ(t.metadata.at("model"), text.to_tensors().metadata.at("model"));
  EXPECT_NO_THROW(DiT::from_tensors(d));
  EXPECT_NO_THROW(TextEncoder::from_tensors(t));
  EXPECT_THROW(DiT::from_tensors(load_tensors(ck + "/ema.safetensors")), Error);  // needs the split

  auto [plain, none] = split_text_encoder(dit.to_tensors());
  EXPECT_TRUE(none.tensors.empty());
  TensorFile clash = dit.to_tensors();
  clash.tensors["text_encoder.x"] = Tensor::zeros({1});
  EXPECT_THROW(join_text_encoder(clash, text.to_tensors()), Error);
  fs::remove_all(dir);
}

// Model guidance with the encoder trained alongside: the unconditional prediction encodes the
// empty caption itself, and the two captions' velocities move apart from it as a plain run's do
// not.
TEST(JointTextTraining, ModelGuidanceWidensTheGapFromTheEmptyCaption) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  TwoCaptionData data;
  auto gap_after_training = [&](float w) {
    DiT dit = DiT::init_random(tiny_dit(), 2);
    TextEncoder text = TextEncoder::init_random(tiny_text(), 3);
    TrainerOptions o = options(80);
    o.flow.caption_dropout = 0.25f;
    o.model_guidance = w;
    DiTTrainer trainer(dit, data, o, &text);
    for (int i = 0; i < 80; ++i) trainer.step();
    NoGradGuard no_grad;
    FlowMatchingOptions fm;
    fm.caption_dropout = 0, fm.logit_mean = 0, fm.logit_std = 0, fm.shift = 1;  // t = 0.5
    double total = 0;
    for (int64_t index : {0, 1}) {
      TrainRng rng(4, uint64_t(index));
      FlowBatch b = make_flow_batch({data.get(index)}, Tensor(), 0, tiny_dit(), fm, rng, {kEos});
      TokenBatch empty{1, 1, {kEos}, {1}, {1}};
      total += mse_loss(dit.forward(b.x_t, b.timesteps, text.forward(b.captions)),
                        dit.forward(b.x_t, b.timesteps, text.forward(empty))).item();
    }
    return total / 2;
  };
  const double plain = gap_after_training(0.f), guided = gap_after_training(0.5f);
  std::printf("|v_c - v_u|^2 at t 0.5: plain %.4f, model guidance 0.5 %.4f (x%.2f)\n", plain, guided,
              guided / plain);
  EXPECT_GT(guided, 1.8 * plain);
}

TEST(JointTextTraining, RefusesAFrozenEncoderOrADataSetWithoutTokens) {
  DiT dit = DiT::init_random(tiny_dit(), 2);
  TextEncoder frozen = TextEncoder::from_tensors(TextEncoder::init_random(tiny_text(), 3).to_tensors());
  TwoCaptionData data;
  EXPECT_THROW(DiTTrainer(dit, data, options(2), &frozen), Error);
  TextEncoder trainable = TextEncoder::init_random(tiny_text(), 3);
  SyntheticLatentDataset synthetic(SyntheticLatentOptions{8, 4, 2, 4, 4, 6, 16, 1});
  EXPECT_THROW(DiTTrainer(dit, synthetic, options(2), &trainable), Error);
}

}  // namespace
}  // namespace kinema
