// Sequence-parallel DiT forward and generation (Ulysses): run alone and under `mpirun -np 2`
// by ctest; every rank compares the ranks' shared result with the one it computes alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"
#include "kinema/context.hpp"
#include "kinema/dist.hpp"
#include "kinema/dit.hpp"
#include "kinema/modes.hpp"
#include "kinema/error.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"
#include "kinema/vae.hpp"
#include "models/dit/sequence_parallel.hpp"
#include "tiny_bundle.hpp"

namespace kinema {
namespace {

double max_relative_difference(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  double worst = 0, scale = 0;
  for (float v : y) scale = std::max(scale, double(std::abs(v)));
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(double(x[i]) - y[i]) / scale);
  return worst;
}

Tensor random_tensor(Shape shape, uint64_t seed) {
  TrainRng rng(seed, 1);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = rng.normal();
  return Tensor::from_vector(v, shape);
}

// A grid of 3 x 3 x 5 = 45 patches: the ranks' shares are uneven (23 + 22 with 2 ranks).
void check_forward(DType compute, double tolerance) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  NoGradGuard no_grad;
  DiTConfig c;
  c.dim = 64, c.num_heads = 4, c.num_layers = 2, c.ffn_dim = 128, c.freq_dim = 32;
  c.in_dim = 8, c.out_dim = 4, c.text_dim = 32;
  // Every weight random (Wan's init zeroes the head, which would hide a wrong token order).
  TensorFile weights;
  uint64_t seed = 100;
  for (const auto& [name, shape] : dit_parameter_shapes(c)) weights.tensors[name] = scale(random_tensor(shape, seed++), 0.2f);
  weights.metadata["num_heads"] = std::to_string(c.num_heads);
  DiT model = DiT::from_tensors(weights);
  Tensor x = random_tensor({1, 4, 3, 6, 10}, 1), t = Tensor::from_vector({640.f}, {1});
  Tensor context = random_tensor({1, 6, 32}, 2);
  DiTForwardOptions o;
  o.compute = compute;
  o.condition = random_tensor({1, 4, 3, 6, 10}, 3);
  o.context_lens = {5};
  Tensor alone = model.forward(x, t, context, o);
  o.sequence_parallel = &world_comm();
  Tensor shared = model.forward(x, t, context, o);
  const double diff = max_relative_difference(shared, alone);
  std::printf("rank %d of %d: %s sequence-parallel forward vs alone: %.3g of the output's scale\n",
              world_comm().rank(), world_comm().size(), std::string(dtype_name(compute)).c_str(), diff);
  EXPECT_LE(diff, tolerance);
}

TEST(SequenceParallel, ForwardEqualsOneRankInF32) { check_forward(DType::f32, 1e-5); }
TEST(SequenceParallel, ForwardEqualsOneRankInBf16) { check_forward(DType::bf16, 2e-2); }

// Rank and size only: enough to cut a sequence.
struct ThreeRanks final : Communicator {
  int rank() const override { return 1; }
  int size() const override { return 3; }
  void allreduce_sum(float*, int64_t) override {}
  void allreduce_sum(double*, int64_t) override {}
  void reduce_scatter_sum(float*, int64_t) override {}
  void allgather(float*, int64_t) override {}
  void alltoallv(const float*, const std::vector<int64_t>&, float*, const std::vector<int64_t>&) override {}
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int) override { std::abort(); }
};

TEST(SequenceParallel, CutsTokensEvenlyAndRefusesHeadsThatDoNotDivide) {
  ThreeRanks three;
  dit::SequenceShard s = dit::SequenceShard::make(three, 10, 6);
  EXPECT_EQ(s.sizes, (std::vector<int64_t>{4, 3, 3}));
  EXPECT_EQ(s.begins, (std::vector<int64_t>{0, 4, 7}));
  EXPECT_EQ(s.begin(), 4);
  try {
    dit::SequenceShard::make(three, 45, 4);
    FAIL() << "4 heads on 3 ranks must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4 heads do not divide among 3 ranks"), std::string::npos) << e.what();
  }
}

double max_frame_difference(const std::vector<Frame>& a, const std::vector<Frame>& b) {
  double worst = a.size() == b.size() ? 0 : 1e9;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    for (size_t j = 0; j < a[i].rgb.size(); ++j)
      worst = std::max(worst, std::abs(double(a[i].rgb[j]) - double(b[i].rgb[j])));
  return worst;
}

// The VAE decode split by time: each rank decodes its share of the latent frames from the cache
// the rank before hands over; the video equals one rank's decode bit for bit.
TEST(SequenceParallel, TimeSplitVaeDecodeEqualsOneRanks) {
  NoGradGuard no_grad;
  VaeConfig c;
  c.dim = 8, c.z_dim = 4, c.dim_mult = {1, 2, 2}, c.num_res_blocks = 1, c.temporal_downsample = {false, true};
  VAE vae = VAE::init_random(c, 5, VaeInit::random);
  const Tensor z = random_tensor({1, 4, 5, 4, 6}, 9);  // 5 latent frames: uneven shares
  const Tensor alone = vae.decode(z), shared = vae.decode_across(z, world_comm());
  ASSERT_EQ(shared.shape(), alone.shape());
  const double diff = max_relative_difference(shared, alone);
  std::printf("rank %d of %d: time-split VAE decode vs alone: %.3g\n", world_comm().rank(), world_comm().size(), diff);
  EXPECT_EQ(diff, 0.0);
}

TEST(SequenceParallel, TextToVideoAndExtendGiveTheOneRankFrames) {
  Pipeline p = Pipeline::load(tiny_bundle().string());
  GenerateRequest r;
  r.prompt = "a red circle moves right", r.seed = 3, r.threads = 1, r.frames = 9;
  std::vector<Frame> alone = p.generate(r).frames;
  r.sequence_parallel = &world_comm();
  std::vector<Frame> shared = p.generate(r).frames;
  // Extend: the shared clip's last frames condition a continuation.
  GenerateRequest e = r;
  e.known = {KnownFrame{0, shared.back()}};
  std::vector<Frame> extended_shared = p.generate(e).frames;
  e.sequence_parallel = nullptr;
  std::vector<Frame> extended_alone = p.generate(e).frames;
  EXPECT_LE(max_frame_difference(shared, alone), 1.0) << "8-bit levels";
  EXPECT_LE(max_frame_difference(extended_shared, extended_alone), 1.0) << "8-bit levels";
}

// Sequence-parallel training: the ranks take the same samples and split their tokens; the
// summed parameter gradients are the whole gradient, so the steps are one rank's steps (to
// rounding: partial sums are added in another order).
TEST(SequenceParallel, TrainingStepsEqualOneRanks) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  SyntheticLatentDataset data;  // latents [4, 2, 4, 4]: 2 x 2 x 2 = 8 tokens
  DiTConfig c;
  c.dim = 64, c.num_heads = 4, c.num_layers = 2, c.ffn_dim = 128;
  c.in_dim = 4, c.out_dim = 4, c.text_dim = 32, c.freq_dim = 32;
  // losses and gradient norms (before clipping): Adam would hide a gradient that is off by a
  // constant factor, the norm does not.
  auto run = [&](Communicator* comm, std::vector<float>& losses) {
    DiT model = DiT::init_random(c, 1);
    TrainerOptions o;
    o.batch_size = 2, o.accumulation = 2, o.seed = 3, o.ema_decay = 0.9f;
    o.lr = LrSchedule{5e-3f, 2, 10, 0.1f};
    o.comm = comm, o.split = TrainLoopOptions::Split::sequence;
    DiTTrainer trainer(model, data, o);
    for (int i = 0; i < 4; ++i) {
      StepStats st = trainer.step();
      losses.push_back(st.loss), losses.push_back(st.grad_norm);
    }
    return model.parameters();
  };
  std::vector<float> shared_losses, alone_losses;
  std::vector<Tensor> shared = run(&world_comm(), shared_losses), alone = run(nullptr, alone_losses);
  double worst = 0;
  for (size_t i = 0; i < shared.size(); ++i) worst = std::max(worst, max_relative_difference(shared[i], alone[i]));
  std::printf("rank %d of %d: sequence-parallel training vs alone: worst weight difference %.3g of each "
              "tensor's scale; losses %.6f / %.6f\n", world_comm().rank(), world_comm().size(), worst,
              shared_losses[shared_losses.size() - 2], alone_losses[alone_losses.size() - 2]);
  EXPECT_LE(worst, 1e-3);
  for (size_t i = 0; i < alone_losses.size(); ++i)
    EXPECT_NEAR(shared_losses[i], alone_losses[i], 1e-4 * alone_losses[i]) << (i % 2 ? "grad norm" : "loss");
}

}  // namespace
}  // namespace kinema
