// Pieces of the DiT forward shared between src/models/dit/*.cpp (not a public header).
#pragma once
#include <string>

#include "kinema/dit.hpp"
#include "kinema/ops.hpp"
#include "models/dit/sequence_parallel.hpp"

namespace kinema::dit {

// What one forward call needs besides its activations: the model, the options and the
// patch grid of this call's latent. Options are held by value so a checkpointed block can
// re-run during backward after forward's caller has dropped its options.
struct Run {
  const DiT& model;
  DiTForwardOptions options;
  int64_t grid_t = 1, grid_h = 1, grid_w = 1;  // patches along t, h, w
  Tensor context_mask;                          // [B, 1, 1, L] additive, or undefined
  const SequenceShard* shard = nullptr;         // this rank's tokens (sequence parallelism)
  int64_t image_tokens = 0;                     // leading context tokens that are image tokens

  const DiTConfig& config() const { return model.config(); }
  // A non-matmul parameter (norm weight, modulation) as f32-compatible (quantized -> f32).
  Tensor param(const std::string& name) const;
  // nn.Linear `prefix` (prefix.weight [out, in], prefix.bias [out]) in the compute dtype;
  // returns f32.
  Tensor linear(const Tensor& x, const std::string& prefix) const;
  Tensor linear(const Tensor& x, const std::string& prefix, DType compute) const;
  Tensor linear_with(const Tensor& x, const Tensor& weight, const Tensor& bias, DType compute) const;
};

// x [B, C, T, H, W] -> tokens [B, N, dim] through patch_embedding (a Conv3d with stride = kernel,
// run as one GEMM over flattened patches). Fills run.grid_*.
Tensor patchify(Run& run, const Tensor& x);
// options.layout [B, K, T, H, W] (zeros when undefined) -> [B, N, dim] through layout_embedding,
// on the patch grid patchify set.
Tensor layout_tokens(const Run& run, int64_t batch);
// tokens [B, N, C_out*pt*ph*pw] -> [B, C_out, T, H, W]
Tensor unpatchify(const Run& run, const Tensor& tokens);
// t [B] (or [B, N]: every element) -> [B·N, freq_dim]: [cos(t * 10000^(-i/half)), sin(...)], i < half = freq_dim / 2
Tensor sinusoidal_embedding(const Tensor& t, int64_t freq_dim);
// context [B, L, text_dim] -> [B, L, dim]: Linear, GELU(tanh), Linear
Tensor text_embedding(const Run& run, const Tensor& context);
// CLIP image tokens [B, Li, image_dim] -> [B, Li, dim] (Wan's MLPProj, I2V/FLF2V)
Tensor image_embedding(const Run& run, const Tensor& clip);
// x [B, N, D], e0 [B, 6, D] or per token [B, N, 6, D], context [B, Li + L, D] (image tokens
// first) -> [B, N, D]
Tensor attention_block(const Run& run, int layer, const Tensor& x, const Tensor& e0,
                       const Tensor& context);
// x [B, N, D], e [B, D] or per token [B, N, D] -> [B, N, C_out*pt*ph*pw]
Tensor head(const Run& run, const Tensor& x, const Tensor& e);

}  // namespace kinema::dit
