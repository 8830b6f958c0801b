// The DiT trainer: flow-matching step with accumulation, clipping, AdamW, EMA; checkpoints.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"

namespace fs = std::filesystem;

namespace kinema {

float LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) return peak * float(step + 1) / float(warmup_steps);
  int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  double progress = std::min(1.0, double(step - warmup_steps) / double(span));
  double cosine = 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  return float(peak * (min_ratio + (1.0 - min_ratio) * cosine));
}

namespace {
std::vector<std::string> dit_keys(const DiTConfig& config) {
  std::vector<std::string> keys;
  for (const auto& [key, shape] : dit_parameter_shapes(config)) keys.push_back(key);
  return keys;
}
}  // namespace

DiTTrainer::DiTTrainer(DiT& model, const LatentDataset& data, const TrainerOptions& options)
    : model_(model),
      data_(data),
      options_(options),
      state_("kinema.train.dit/1", dit_keys(model.config()), model.parameters(), data.size(), options,
             0x6b696e656d61ULL) {
  check(options.compute == DType::f32 || options.compute == DType::bf16, "DiTTrainer",
        "compute must be f32 or bf16; got ", dtype_name(options.compute));
}

StepStats DiTTrainer::step() {
  auto t0 = std::chrono::steady_clock::now();
  const DiTConfig& cfg = model_.config();
  const int64_t cond_channels = cfg.in_dim > cfg.out_dim ? cfg.in_dim - cfg.out_dim : 0;
  const Tensor empty = data_.empty_context();
  double loss_sum = 0;
  for (int64_t a = 0; a < options_.accumulation; ++a) {
    std::vector<LatentSample> samples;
    for (int64_t index : next_micro_batch()) samples.push_back(data_.get(index));
    FlowBatch b = make_flow_batch(samples, empty, cond_channels, cfg, options_.flow, state_.rng());
    DiTForwardOptions fo;
    fo.compute = options_.compute;
    fo.condition = b.condition;
    fo.context_lens = b.context_lens;
    fo.checkpointing = options_.checkpointing;
    Tensor loss = mse_loss(model_.forward(b.x_t, b.timesteps, b.context, fo), b.velocity);
    loss_sum += loss.item();
    // Accumulated gradients are the mean over micro-batches, as one large batch would give.
    backward(options_.accumulation > 1 ? scale(loss, 1.f / float(options_.accumulation)) : loss);
  }
  StepStats s;
  s.loss = float(loss_sum / double(options_.accumulation));
  state_.finish_step(s);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

std::vector<int64_t> DiTTrainer::next_micro_batch() {
  for (;;) {
    const int64_t index = state_.order().next();
    std::vector<int64_t>& q = pending_[data_.bucket(index)];
    q.push_back(index);
    if (int64_t(q.size()) == options_.batch_size) return std::exchange(q, {});
  }
}

TensorFile DiTTrainer::ema_tensors() const { return state_.with_ema(model_.to_tensors()); }
std::string DiTTrainer::save(const std::string& dir) const { return state_.save(dir, model_.to_tensors()); }

void DiTTrainer::load(const std::string& dir) {
  state_.load(dir);
  // Rebuild the bucket queues: replay the order up to the restored position (see train.hpp).
  pending_.clear();
  const int64_t position = state_.data_position();
  DataOrder replay(data_.size(), options_.seed);
  for (int64_t p = 0; p < position; ++p) {
    const int64_t index = replay.next();
    std::vector<int64_t>& q = pending_[data_.bucket(index)];
    q.push_back(index);
    if (int64_t(q.size()) == options_.batch_size) q.clear();
  }
}

}  // namespace kinema
