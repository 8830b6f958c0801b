// Model guidance (train dit --model-guidance W): the guided target against its closed form,
// refused weights, and training: the conditional branch moves away from the unconditional one
// toward CFG at 1 / (1 - W), as a plain run's does not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/train.hpp"

namespace kinema {
namespace {

DiTConfig tiny(int64_t dim, int64_t heads, int64_t layers) {
  DiTConfig c;
  c.dim = dim, c.num_heads = heads, c.num_layers = layers, c.ffn_dim = 2 * dim;
  c.in_dim = 4, c.out_dim = 4, c.text_dim = 32, c.freq_dim = 32;
  return c;
}

TEST(ModelGuidance, TargetsMoveByWTimesTheDifferenceExceptWhereTheCaptionWasDropped) {
  const Tensor v = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2});
  const Tensor c = Tensor::from_vector({0.5f, -1, 2, 2, 7, 0}, {3, 2});
  const Tensor u = Tensor::from_vector({0.5f, 1, 0, 4, 1, 1}, {3, 2});
  const std::vector<float> got = model_guided_velocity(v, c, u, {0, 1, 0}, 0.25f).to_vector();
  const std::vector<float> want = {1 + 0.f, 2 + 0.25f * -2, 3, 4, 5 + 0.25f * 6, 6 + 0.25f * -1};
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << i;
  EXPECT_EQ(model_guided_velocity(v, c, u, {0, 0, 0}, 0.f).to_vector(), v.to_vector());
}

TEST(ModelGuidance, WeightsOutsideZeroToOneAndMisshapenInputsAreRefused) {
  const Tensor v = Tensor::zeros({2, 3});
  for (float w : {1.f, 1.5f, -0.1f, std::numeric_limits<float>::quiet_NaN()})
    EXPECT_THROW(model_guided_velocity(v, v, v, {0, 0}, w), Error) << w;
  EXPECT_THROW(model_guided_velocity(v, Tensor::zeros({3, 2}), v, {0, 0}, 0.5f), Error);
  EXPECT_THROW(model_guided_velocity(v, v, v, {0}, 0.5f), Error);

  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  SyntheticLatentDataset data;
  DiT model = DiT::init_random(tiny(32, 2, 1), 1);
  TrainerOptions o;
  o.model_guidance = 1.f;
  EXPECT_THROW(DiTTrainer(model, data, o), Error);
  o.model_guidance = 0.5f;
  o.split = TrainLoopOptions::Split::sequence;
  EXPECT_THROW(DiTTrainer(model, data, o), Error);
}

// Mean squared gap between the conditional and the unconditional velocity over the data set's
// samples at t = 0.5 (fixed noise).
double guidance_gap(const DiT& model, const LatentDataset& data) {
  NoGradGuard no_grad;
  FlowMatchingOptions fm;
  fm.caption_dropout = 0, fm.logit_mean = 0, fm.logit_std = 0, fm.shift = 1;  // t = 0.5
  double total = 0;
  for (int64_t i = 0; i < data.size(); ++i) {
    TrainRng rng(11, uint64_t(i));
    FlowBatch b = make_flow_batch({data.get(i)}, data.empty_context(), 0, model.config(), fm, rng);
    const Tensor empty = data.empty_context();
    const Tensor u_ctx = reshape(empty, {1, empty.size(0), empty.size(1)});
    total += mse_loss(model.forward(b.x_t, b.timesteps, b.context), model.forward(b.x_t, b.timesteps, u_ctx)).item();
  }
  return total / double(data.size());
}

TEST(ModelGuidance, TrainingWidensTheGapBetweenConditionalAndUnconditionalVelocity) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  SyntheticLatentDataset data;
  const DiTConfig cfg = tiny(64, 4, 2);
  auto train = [&](float w) {
    DiT model = DiT::init_random(cfg, 1);
    TrainerOptions o;
    o.batch_size = 4;
    o.lr = LrSchedule{5e-3f, 5, 150, 0.1f};
    o.adamw.weight_decay = 0.f;
    o.seed = 3;
    o.flow.caption_dropout = 0.25f;  // the unconditional branch must be learnt too
    o.model_guidance = w;
    DiTTrainer trainer(model, data, o);
    for (int i = 0; i < 150; ++i) trainer.step();
    return guidance_gap(model, data);
  };
  const double plain = train(0.f), guided = train(0.5f);
  // At its fixed point the guided gap is the plain one x 1 / (1 - 0.5), squared: x 4.
  std::printf("|v_c - v_u|^2 at t 0.5: plain %.4f, model guidance 0.5 %.4f (x%.2f)\n", plain, guided,
              guided / plain);
  EXPECT_GT(guided, 1.8 * plain);
}

}  // namespace
}  // namespace kinema
