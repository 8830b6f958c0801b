// Data-parallel training and the sharded optimizer. Run by ctest twice: as one rank, and under
// `mpirun -np 2`, where each rank compares the ranks' shared run with a run it does alone
// (one rank, accumulation x ranks), which must take the same steps. Assertions come after
// each test's last collective, so a failing rank cannot leave the other waiting.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <unistd.h>

#include "kinema/context.hpp"
#include "kinema/dist.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"
#include "kinema/vae_train.hpp"
#include "kinema/world_video.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

DiTConfig tiny_dit() {
  DiTConfig c;
  c.dim = 64, c.num_heads = 4, c.num_layers = 2, c.ffn_dim = 128;
  c.in_dim = 4, c.out_dim = 4, c.text_dim = 32, c.freq_dim = 32;
  return c;
}

TrainerOptions dit_options(int64_t accumulation) {
  TrainerOptions o;
  o.batch_size = 2, o.accumulation = accumulation, o.seed = 3, o.ema_decay = 0.9f;
  o.lr = LrSchedule{5e-3f, 2, 10, 0.1f};
  return o;
}

// Largest |a - b| / max(1e-3, |b|) over every parameter.
double max_relative_difference(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    std::vector<float> x = a[i].to_vector(), y = b[i].to_vector();
    for (size_t j = 0; j < x.size(); ++j)
      worst = std::max(worst, std::abs(double(x[j]) - y[j]) / std::max(1e-3, std::abs(double(y[j]))));
  }
  return worst;
}

// Two ranks' sums are exact (a + b = b + a); three or more are summed in another order than one
// rank accumulates them, and Adam's m / sqrt(v) magnifies rounding in gradients near zero (to
// ~1.5e-3 relative on a near-zero weight with 3 ranks).
double tolerance(const Communicator& comm) { return comm.size() <= 2 ? 1e-5 : 5e-3; }

// K steps of the tiny DiT on the synthetic latents, by the ranks of comm (nullptr: alone).
std::vector<Tensor> train_dit(Communicator* comm, bool shard, int64_t accumulation, int steps,
                              std::vector<float>* losses = nullptr, int64_t* state_bytes = nullptr) {
  SyntheticLatentDataset data;
  DiT model = DiT::init_random(tiny_dit(), 1);
  TrainerOptions o = dit_options(accumulation);
  o.comm = comm, o.shard_optimizer = shard;
  DiTTrainer trainer(model, data, o);
  for (int i = 0; i < steps; ++i) {
    float loss = trainer.step().loss;
    if (losses) losses->push_back(loss);
  }
  if (state_bytes) *state_bytes = trainer.optimizer_state_bytes();
  return model.parameters();
}

TEST(Collectives, SumsGathersAndBroadcastsAsTheirClosedForms) {
  Communicator& comm = world_comm();
  const int R = comm.size(), r = comm.rank();
  std::vector<float> a = {float(r + 1), float(10 * r)};
  comm.allreduce_sum(a.data(), 2);
  double d = r + 0.5;
  comm.allreduce_sum(&d, 1);
  std::vector<float> blocks(size_t(3 * R));
  for (int i = 0; i < 3 * R; ++i) blocks[size_t(i)] = float(i * (r + 1));
  comm.reduce_scatter_sum(blocks.data(), 3);
  std::vector<float> gathered(size_t(2 * R), -1.f);
  gathered[size_t(2 * r)] = float(r), gathered[size_t(2 * r + 1)] = float(100 + r);
  comm.allgather(gathered.data(), 2);
  int64_t token = r == 0 ? 4242 : 0;
  comm.broadcast(&token, sizeof token, 0);

  const float ranks_sum = float(R * (R + 1) / 2);  // sum of (r + 1)
  EXPECT_EQ(a[0], ranks_sum);
  EXPECT_EQ(a[1], 10.f * float(R * (R - 1) / 2));
  EXPECT_DOUBLE_EQ(d, R * (R - 1) / 2.0 + 0.5 * R);
  for (int j = 0; j < 3; ++j) EXPECT_EQ(blocks[size_t(3 * r + j)], float(3 * r + j) * ranks_sum);
  for (int q = 0; q < R; ++q) {
    EXPECT_EQ(gathered[size_t(2 * q)], float(q));
    EXPECT_EQ(gathered[size_t(2 * q + 1)], float(100 + q));
  }
  EXPECT_EQ(token, 4242);
}

TEST(DataParallel, RanksTakeTheStepsOneRankTakesWithTheirAccumulation) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  Communicator& comm = world_comm();
  std::vector<float> shared_losses, alone_losses;
  std::vector<Tensor> shared = train_dit(&comm, false, 1, 4, &shared_losses);
  std::vector<Tensor> alone = train_dit(nullptr, false, comm.size(), 4, &alone_losses);
  const double diff = max_relative_difference(shared, alone);
  std::printf("rank %d of %d: data parallel vs alone, worst relative weight difference %.3g\n",
              comm.rank(), comm.size(), diff);
  EXPECT_LE(diff, tolerance(comm));
  for (size_t i = 0; i < alone_losses.size(); ++i)
    EXPECT_NEAR(shared_losses[i], alone_losses[i], 1e-5 * alone_losses[i]);
}

TEST(ZeRO, ShardedStepsEqualUnshardedOnesAndStateShrinksWithRanks) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  Communicator& comm = world_comm();
  int64_t sharded_bytes = 0, full_bytes = 0;
  std::vector<Tensor> sharded = train_dit(&comm, true, 1, 4, nullptr, &sharded_bytes);
  std::vector<Tensor> alone = train_dit(nullptr, false, comm.size(), 4, nullptr, &full_bytes);
  const double diff = max_relative_difference(sharded, alone);
  std::printf("rank %d of %d: ZeRO vs alone, worst relative weight difference %.3g; optimizer "
              "state %lld bytes on this rank, %lld unsharded\n",
              comm.rank(), comm.size(), diff, static_cast<long long>(sharded_bytes),
              static_cast<long long>(full_bytes));
  EXPECT_LE(diff, tolerance(comm));
  // Each rank holds a ceil(N / R) block of both moments.
  const int64_t n = full_bytes / 8, block = (n + comm.size() - 1) / comm.size();
  EXPECT_EQ(sharded_bytes, 8 * block);
}

TEST(ZeRO, ShardedCheckpointResumesAloneWhereTheRanksLeftOff) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  Communicator& comm = world_comm();
  int64_t pid = ::getpid();
  comm.broadcast(&pid, sizeof pid, 0);  // one directory for every rank
  const fs::path dir = fs::temp_directory_path() / ("kinema_zero_" + std::to_string(pid));
  SyntheticLatentDataset data;
  {
    DiT model = DiT::init_random(tiny_dit(), 1);
    TrainerOptions o = dit_options(1);
    o.comm = &comm, o.shard_optimizer = true;
    DiTTrainer trainer(model, data, o);
    for (int i = 0; i < 2; ++i) trainer.step();
    trainer.save(dir.string());
  }
  // Alone, unsharded, accumulating what the ranks shared: two more steps.
  DiT model = DiT::init_random(tiny_dit(), 99);
  DiTTrainer resumed(model, data, dit_options(comm.size()));
  resumed.load(dir.string());
  for (int i = 0; i < 2; ++i) resumed.step();
  std::vector<Tensor> straight = train_dit(nullptr, false, comm.size(), 4);
  comm.barrier();  // every rank has read the checkpoint
  if (comm.is_root()) fs::remove_all(dir);
  EXPECT_LE(max_relative_difference(model.parameters(), straight), tolerance(comm));
}

TEST(DataParallel, VaeRanksTakeTheStepsOneRankTakes) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  Communicator& comm = world_comm();
  world::WorldVideoOptions clips;
  clips.count = 32, clips.frames = 5, clips.crop = 16, clips.image_fraction = 0.25, clips.seed = 7;
  world::WorldVideoDataset data(clips);
  auto run = [&](Communicator* c, int64_t accumulation) {
    VaeConfig v;
    v.dim = 8, v.z_dim = 4, v.dim_mult = {1, 2, 2}, v.num_res_blocks = 1, v.temporal_downsample = {false, true};
    VAE model = VAE::init_random(v, 2);
    VaeTrainerOptions o;
    o.batch_size = 1, o.accumulation = accumulation, o.seed = 5, o.ema_decay = 0.9f;
    o.lr = LrSchedule{3e-3f, 2, 10, 0.1f};
    o.comm = c;
    VaeTrainer trainer(model, data, o);
    for (int i = 0; i < 3; ++i) trainer.step();
    return model.parameters();
  };
  std::vector<Tensor> shared = run(&comm, 1), alone = run(nullptr, comm.size());
  EXPECT_LE(max_relative_difference(shared, alone), tolerance(comm));
}

}  // namespace
}  // namespace kinema
