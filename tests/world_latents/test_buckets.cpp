// Bucketed micro-batches: every micro-batch holds one latent shape, resume with two buckets
// stays bit-identical, and one bucket keeps the plain "next batch_size indices" order.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "kinema/context.hpp"
#include "kinema/train.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

// Two synthetic sets of different latent shapes behind one index space; the bucket is an
// irregular (hashed) function of the index so queues really hold leftovers.
class TwoShapeDataset final : public LatentDataset {
 public:
  TwoShapeDataset() {
    SyntheticLatentOptions a, b;
    a.count = b.count = 11;
    b.height = 2, b.width = 6, b.seed = 7;
    a_ = SyntheticLatentDataset(a), b_ = SyntheticLatentDataset(b);
  }
  int64_t size() const override { return 11; }
  bool wide(int64_t i) const { return ((uint64_t(i) * 0x9e3779b97f4a7c15ull) >> 61) % 3 == 0; }
  LatentSample get(int64_t i) const override { return wide(i) ? b_.get(i) : a_.get(i); }
  Tensor empty_context() const override { return a_.empty_context(); }
  std::string bucket(int64_t i) const override { return wide(i) ? "wide" : "square"; }

 private:
  SyntheticLatentDataset a_, b_;
};

DiTConfig tiny() {
  DiTConfig c;
  c.dim = 32, c.num_heads = 2, c.num_layers = 1, c.ffn_dim = 64;
  c.in_dim = 4, c.out_dim = 4, c.text_dim = 32, c.freq_dim = 32;
  return c;
}

TrainerOptions options() {
  TrainerOptions o;
  o.batch_size = 2;
  o.accumulation = 2;
  o.lr = LrSchedule{3e-3f, 2, 12, 0.1f};
  o.ema_decay = 0.9f;
  o.seed = 5;
  return o;
}

TEST(Buckets, EveryMicroBatchHasOneShapeAndNoIndexIsLost) {
  TwoShapeDataset data;
  DiT model = DiT::init_random(tiny(), 1);
  TrainerOptions o = options();
  o.batch_size = 3;
  DiTTrainer trainer(model, data, o);
  int64_t wide = 0, square = 0;
  for (int i = 0; i < 40; ++i) {
    std::vector<int64_t> mb = trainer.next_micro_batch();
    ASSERT_EQ(mb.size(), 3u);
    Shape shape = data.get(mb[0]).latent.shape();
    for (int64_t idx : mb) {
      EXPECT_EQ(data.bucket(idx), data.bucket(mb[0]));
      EXPECT_EQ(data.get(idx).latent.shape(), shape);
    }
    (data.bucket(mb[0]) == "wide" ? wide : square) += 3;
  }
  EXPECT_GT(wide, 0);
  EXPECT_GT(square, 0);
  // Everything drawn is either used or still queued: at most 2 per bucket waiting.
  EXPECT_GE(trainer.data_position(), 120);
  EXPECT_LE(trainer.data_position(), 124);
}

TEST(Buckets, EveryStepTakesAllItsMicroBatchesFromOneBucket) {
  TwoShapeDataset data;
  DiT model = DiT::init_random(tiny(), 1);
  TrainerOptions o = options();
  o.batch_size = 2, o.accumulation = 3;
  DiTTrainer trainer(model, data, o);
  std::map<std::string, int64_t> steps, samples;
  int64_t used = 0;
  for (int i = 0; i < 60; ++i) {
    const std::vector<std::vector<int64_t>> step = trainer.next_step_micro_batches();
    ASSERT_EQ(step.size(), 3u);
    const std::string bucket = data.bucket(step[0][0]);
    for (const std::vector<int64_t>& mb : step) {
      ASSERT_EQ(mb.size(), 2u);
      for (int64_t idx : mb) EXPECT_EQ(data.bucket(idx), bucket) << "step " << i;
      used += 2;
    }
    ++steps[bucket], samples[bucket] += 6;
  }
  // Both buckets get whole steps, in about their share of the data (4 of 11 indices are wide).
  EXPECT_GE(steps["wide"], 10);
  EXPECT_GE(steps["square"], 25);
  // Nothing is lost: what was drawn and not used is waiting, less than a step's worth a bucket.
  EXPECT_GE(trainer.data_position(), used);
  EXPECT_LT(trainer.data_position(), used + 2 * 6);
}

TEST(Buckets, ResumeWithTwoBucketsIsBitIdentical) {
  Context ctx(ContextOptions{1});
  ContextScope scope(ctx);
  TwoShapeDataset data;
  fs::path dir = fs::temp_directory_path() / ("kinema_buckets_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::vector<float> straight, resumed;
  std::vector<float> w_straight, w_resumed;
  {
    DiT model = DiT::init_random(tiny(), 1);
    DiTTrainer t(model, data, options());
    for (int i = 0; i < 8; ++i) straight.push_back(t.step().loss);
    w_straight = t.ema_tensors().tensors.begin()->second.to_vector();
  }
  {
    DiT model = DiT::init_random(tiny(), 1);
    DiTTrainer t(model, data, options());
    for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
    t.save(dir.string());
  }
  {
    DiT model = DiT::from_tensors(load_tensors(find_checkpoint(dir.string()) + "/model.safetensors"),
                                  DiTLoadOptions{true});
    DiTTrainer t(model, data, options());
    t.load(find_checkpoint(dir.string()));
    for (int i = 3; i < 8; ++i) resumed.push_back(t.step().loss);
    w_resumed = t.ema_tensors().tensors.begin()->second.to_vector();
  }
  ASSERT_EQ(straight.size(), resumed.size());
  for (size_t i = 0; i < straight.size(); ++i) EXPECT_EQ(straight[i], resumed[i]) << "step " << i;
  EXPECT_EQ(w_straight, w_resumed);
  fs::remove_all(dir);
}

// A run saved when micro-batches were taken one at a time, each from the first queue to fill
// (before steps took one bucket), stops at a data position no sequence of whole steps reaches;
// load() then rebuilds the queues that rule left, and the next micro-batch is the one the run
// would have taken.
TEST(Buckets, CheckpointFromTheOneMicroBatchAtATimeRuleResumesItsQueues) {
  TwoShapeDataset data;
  fs::path dir = fs::temp_directory_path() / ("kinema_buckets_old_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  DiT model = DiT::init_random(tiny(), 1);
  DiTTrainer before(model, data, options());
  for (int i = 0; i < 5; ++i) before.next_micro_batch();
  before.save(dir.string());
  DiTTrainer after(model, data, options());
  after.load(find_checkpoint(dir.string()));
  EXPECT_EQ(after.data_position(), before.data_position());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(after.next_micro_batch(), before.next_micro_batch()) << i;
  fs::remove_all(dir);
}

TEST(Buckets, OneBucketTakesTheOrderAsItComes) {
  SyntheticLatentDataset data;  // default bucket ""
  DiT model = DiT::init_random(tiny(), 1);
  TrainerOptions o = options();
  o.batch_size = 3;  // 8 latents: micro-batches straddle epochs
  DiTTrainer trainer(model, data, o);
  DataOrder order(data.size(), o.seed);
  for (int i = 0; i < 10; ++i)
    for (int64_t idx : trainer.next_micro_batch()) EXPECT_EQ(idx, order.next());
  EXPECT_EQ(trainer.data_position(), 30);
}

}  // namespace
}  // namespace kinema
