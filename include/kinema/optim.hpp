// Optimisers over f32 master weights. Models keep parameters in f32 (leaves with
// requires_grad) and cast them to bf16 for compute; cast's vjp brings the gradient back to f32.
#pragma once
#include <string>
#include <vector>

#include "kinema/tensor.hpp"

namespace kinema {

struct AdamWOptions {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.01f;
};

// AdamW (Loshchilov & Hutter), decoupled weight decay as in torch.optim.AdamW.
class AdamW {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  void step();       // parameters without a gradient are skipped
  void zero_grad();  // clears accumulated gradients (call after step)
  void set_lr(float lr) { options_.lr = lr; }
  float lr() const { return options_.lr; }
  // Per-parameter multipliers of the learning rate (and so of the decoupled weight decay), as
  // PyTorch's parameter groups give; one per parameter, or empty for all 1.
  void set_lr_scales(std::vector<float> scales);
  int64_t steps() const { return steps_; }
  // Saves/restores the moments and step count (the parameters are the model's business).
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  std::vector<Tensor> params_, m_, v_;
  std::vector<float> lr_scales_;
  AdamWOptions options_;
  int64_t steps_ = 0;
};

class Communicator;

// ZeRO-style AdamW for data-parallel ranks (Rajbhandari et al. 2020, stages 1-2): the
// parameters are flattened into one vector cut into equal blocks, one per rank. Each step
// reduce-scatters the ranks' gradients (so a rank receives only its block's sum), clips by the
// global norm, updates its block with the same arithmetic as AdamW, and all-gathers the
// parameters. A rank keeps the moments of its block only: 2N/R floats instead of 2N. Every
// rank must call step(), save() and load() together.
class ShardedAdamW {
 public:
  ShardedAdamW(std::vector<Tensor> params, const AdamWOptions& options, Communicator& comm);
  // Sums the ranks' gradients, clips them to max_norm (infinity: off) and updates every rank's
  // parameters; returns the global gradient norm before clipping. A non-finite gradient
  // anywhere throws on every rank, before anything changes.
  float step(float max_norm);
  void zero_grad();
  void set_lr(float lr) { options_.lr = lr; }
  void set_lr_scales(std::vector<float> scales);  // as AdamW's
  int64_t steps() const { return steps_; }
  int64_t state_bytes() const;  // the moments this rank holds
  // The whole moments in AdamW::save's format (so either optimizer, on any number of ranks,
  // loads them); rank 0 writes the file.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  std::vector<Tensor> params_;
  AdamWOptions options_;
  Communicator& comm_;
  int64_t total_ = 0, block_ = 0;
  std::vector<float> m_, v_;  // this rank's block
  std::vector<float> lr_scales_;
  int64_t steps_ = 0;
};

// Data parallelism without sharding: every rank's gradients become their sum, in place
// (parameters without a gradient get one, zero).
void allreduce_gradients(const std::vector<Tensor>& params, Communicator& comm);

// Scales all gradients so their global L2 norm is at most max_norm; returns the norm before.
float clip_grad_norm(const std::vector<Tensor>& params, float max_norm);

}  // namespace kinema
