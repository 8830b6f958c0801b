// The DiT trainer: a golden loss curve on a tiny synthetic set, and resume from a checkpoint
// giving the same losses and weights as an uninterrupted run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

DiTConfig tiny() {
  DiTConfig c;
  c.dim = 64, c.num_heads = 4, c.num_layers = 2, c.ffn_dim = 128;
  c.in_dim = 4, c.out_dim = 4, c.text_dim = 32, c.freq_dim = 32;
  return c;
}

constexpr float kGoldenEval[4] = {1.851796f, 1.108231f, 0.850500f, 0.757648f};

TrainerOptions tiny_options(int64_t steps) {
  TrainerOptions o;
  o.batch_size = 4;
  o.accumulation = 2;
  o.lr = LrSchedule{5e-3f, 5, steps, 0.1f};
  o.adamw.weight_decay = 0.0f;
  o.ema_decay = 0.9f;
  o.seed = 3;
  return o;
}

fs::path temp_dir(const char* name) {
  fs::path p = fs::temp_directory_path() / (std::string("kinema_train_") + name + "_" +
                                            std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

// The golden run: tiny DiT (dim 64, 2 layers, Wan init, seed 1) on the 8 synthetic latents
// [4, 2, 4, 4], batch 4 x 2 micro-batches, AdamW peak lr 5e-3 (5 warm-up steps, cosine to 10%),
// 150 steps. The deterministic evaluation loss (5 fixed t, fixed noise) is the curve that is
// checked; training-batch losses are printed beside it.
TEST(Trainer, GoldenLossCurveOnTinySyntheticLatents) {
  constexpr int kSteps = 150;
  // One thread: the recorded curve does not depend on the machine's core count.
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  SyntheticLatentDataset data;  // 8 latents [4, 2, 4, 4], contexts [6, 32]
  std::vector<float> runs[2], evals[2];
  for (int r = 0; r < 2; ++r) {
    DiT model = DiT::init_random(tiny(), 1);
    DiTTrainer trainer(model, data, tiny_options(kSteps));
    for (int i = 0; i < kSteps; ++i) {
      if (i % 50 == 0) evals[r].push_back(evaluate_flow_loss(model, data));
      runs[r].push_back(trainer.step().loss);
    }
    evals[r].push_back(evaluate_flow_loss(model, data));
  }
  EXPECT_EQ(runs[0], runs[1]) << "training is not reproducible from its seed";
  EXPECT_EQ(evals[0], evals[1]);
  auto mean = [&](int b, int e) {
    double s = 0;
    for (int i = b; i < e; ++i) s += runs[0][size_t(i)];
    return s / (e - b);
  };
  std::printf("golden: train loss first 10 steps %.4f, last 10 %.4f\n  eval loss at steps 0, 50, 100, 150:",
              mean(0, 10), mean(kSteps - 10, kSteps));
  for (float e : evals[0]) std::printf(" %.6f", e);
  std::printf("\n  train loss:");
  for (int i = 0; i < kSteps; i += 10) std::printf(" %d:%.4f", i + 1, runs[0][size_t(i)]);
  std::printf("\n");
  // Recorded on the development machine (AVX-512, 1 thread). The reference kernels (double
  // accumulation) reproduce these to 2e-7 after 150 steps; other SIMD targets round between
  // the two, so 1e-3 relative leaves a wide margin while still pinning the curve.
  const float* golden = kGoldenEval;
  ASSERT_EQ(evals[0].size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(evals[0][i], golden[i], 1e-3f * golden[i]) << "eval " << i;
  EXPECT_GT(evals[0].front(), 1.5f);  // zero head: predicts 0, loss = E|eps - x0|^2
  EXPECT_LT(evals[0].back(), 0.80f);
  for (size_t i = 1; i < evals[0].size(); ++i) EXPECT_LT(evals[0][i], evals[0][i - 1]) << i;
  EXPECT_LT(mean(kSteps - 10, kSteps), 0.5 * mean(0, 10));
}

TEST(Trainer, ResumeGivesTheSameLossesAndWeightsBitForBit) {
  SyntheticLatentDataset data;
  const fs::path dir = temp_dir("resume");
  // Uninterrupted: 6 steps.
  std::vector<float> straight;
  DiT a = DiT::init_random(tiny(), 1);
  {
    DiTTrainer t(a, data, tiny_options(6));
    for (int i = 0; i < 6; ++i) straight.push_back(t.step().loss);
  }
  // 3 steps, save, then a fresh model (different init) and trainer that load and go on.
  std::vector<float> resumed;
  {
    DiT b = DiT::init_random(tiny(), 1);
    DiTTrainer t(b, data, tiny_options(6));
    for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
    std::string ck = t.save(dir.string());
    EXPECT_EQ(fs::path(ck).filename(), "step-00000003");
  }
  DiT c = DiT::init_random(tiny(), 99);
  DiTTrainer t(c, data, tiny_options(6));
  t.load(dir.string());
  EXPECT_EQ(t.steps_done(), 3);
  EXPECT_EQ(t.data_position(), 3 * 8);
  for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
  EXPECT_EQ(straight, resumed);
  std::vector<Tensor> pa = a.parameters(), pc = c.parameters();
  for (size_t i = 0; i < pa.size(); ++i) ASSERT_EQ(pa[i].to_vector(), pc[i].to_vector()) << i;
  fs::remove_all(dir);
}

TEST(Trainer, AccumulatingTwoMicroBatchesOfTwoEqualsOneBatchOfFour) {
  SyntheticLatentDataset data;
  std::vector<float> losses[2];
  std::vector<std::vector<float>> weights[2];
  for (int r = 0; r < 2; ++r) {
    DiT model = DiT::init_random(tiny(), 1);
    TrainerOptions o = tiny_options(3);
    o.batch_size = r == 0 ? 4 : 2;
    o.accumulation = r == 0 ? 1 : 2;
    DiTTrainer t(model, data, o);
    for (int i = 0; i < 3; ++i) losses[r].push_back(t.step().loss);
    for (const Tensor& p : model.parameters()) weights[r].push_back(p.to_vector());
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(losses[0][size_t(i)], losses[1][size_t(i)], 1e-5f) << i;
  float worst = 0;
  for (size_t i = 0; i < weights[0].size(); ++i)
    for (size_t j = 0; j < weights[0][i].size(); ++j)
      worst = std::max(worst, std::abs(weights[0][i][j] - weights[1][i][j]));
  EXPECT_LT(worst, 1e-5f);
}

TEST(Trainer, Bf16ComputeWithFrameConditioningLearns) {
  SyntheticLatentOptions so;
  so.frames = 3;
  SyntheticLatentDataset data(so);
  DiTConfig c = tiny();
  c.in_dim = 4 + 4 + 4;  // noise | 4 mask channels | known latents
  DiT model = DiT::init_random(c, 2);
  TrainerOptions o = tiny_options(40);
  o.compute = DType::bf16;
  o.checkpointing = DiTCheckpointing::blocks;
  DiTTrainer t(model, data, o);
  const float before = evaluate_flow_loss(model, data);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(std::isfinite(t.step().loss)) << i;
  const float after = evaluate_flow_loss(model, data);
  std::printf("bf16 + conditioning: eval loss %.4f -> %.4f after 40 steps\n", before, after);
  EXPECT_LT(after, 0.8f * before);
}

TEST(Trainer, CheckpointIsCompleteAndLatestPointsAtIt) {
  SyntheticLatentDataset data;
  const fs::path dir = temp_dir("layout");
  DiT m = DiT::init_random(tiny(), 1);
  DiTTrainer t(m, data, tiny_options(4));
  t.step();
  t.save(dir.string());
  t.step();
  std::string ck = t.save(dir.string());
  EXPECT_EQ(find_checkpoint(dir.string()), ck);
  for (const char* f : {"model.safetensors", "ema.safetensors", "optimizer.safetensors", "trainer.safetensors"})
    EXPECT_TRUE(fs::exists(fs::path(ck) / f)) << f;
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_NE(e.path().filename().string().rfind(".tmp", 0), 0u) << e.path();
  // The model and EMA files load as models.
  DiT ema = DiT::from_tensors(load_tensors((fs::path(ck) / "ema.safetensors").string()));
  EXPECT_EQ(ema.config().dim, 64);
  // A checkpoint of another data set is refused with a reason.
  SyntheticLatentOptions so;
  so.count = 5;
  SyntheticLatentDataset other(so);
  DiTTrainer t2(m, other, tiny_options(4));
  try {
    t2.load(dir.string());
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("8 samples"), std::string::npos) << e.what();
  }
  EXPECT_EQ(find_checkpoint((dir / "nothing").string()), "");
  fs::remove_all(dir);
}

TEST(Trainer, PruneCheckpointsKeepsTheNewestAndLatest) {
  SyntheticLatentDataset data;
  const fs::path dir = temp_dir("prune");
  DiT m = DiT::init_random(tiny(), 1);
  DiTTrainer t(m, data, tiny_options(8));
  std::vector<std::string> saved;
  for (int i = 0; i < 4; ++i) {
    t.step();
    saved.push_back(t.save(dir.string()));
  }
  fs::create_directories(dir / "samples");  // not a checkpoint: never touched
  EXPECT_EQ(prune_checkpoints(dir.string(), 2), 2);
  EXPECT_FALSE(fs::exists(saved[0]));
  EXPECT_FALSE(fs::exists(saved[1]));
  EXPECT_TRUE(fs::exists(saved[2]));
  EXPECT_TRUE(fs::exists(dir / "samples"));
  EXPECT_EQ(find_checkpoint(dir.string()), saved[3]);
  // latest stays even when it is not among the newest names (a run restarted from an older step).
  {
    std::ofstream f(dir / "latest");
    f << fs::path(saved[2]).filename().string() << "\n";
  }
  EXPECT_EQ(prune_checkpoints(dir.string(), 1), 0);
  EXPECT_TRUE(fs::exists(saved[2]));
  EXPECT_THROW(prune_checkpoints(dir.string(), 0), Error);
  fs::remove_all(dir);
}

TEST(Trainer, CsvLogDropsRowsPastTheResumedStep) {
  const fs::path dir = temp_dir("csv");
  fs::create_directories(dir);
  std::string path = (dir / "train_log.csv").string();
  {
    CsvLog log(path, 0);
    for (int i = 1; i <= 5; ++i) log.write(StepStats{i, 1.f / float(i), 1e-3f, 0.5f, 0.01});
  }
  CsvLog log(path, 3);
  log.write(StepStats{4, 0.2f, 1e-3f, 0.5f, 0.01});
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "step,loss,lr,grad_norm,seconds");
  EXPECT_EQ(lines[4].substr(0, 6), "4,0.20");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kinema
