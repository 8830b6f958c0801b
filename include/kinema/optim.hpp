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
  int64_t steps() const { return steps_; }
  // Saves/restores the moments and step count (the parameters are the model's business).
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  std::vector<Tensor> params_, m_, v_;
  AdamWOptions options_;
  int64_t steps_ = 0;
};

// Scales all gradients so their global L2 norm is at most max_norm; returns the norm before.
float clip_grad_norm(const std::vector<Tensor>& params, float max_norm);

}  // namespace kinema
