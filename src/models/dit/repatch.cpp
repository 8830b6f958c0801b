// A warm start across patch sizes: DiT weights trained with patches of p voxels carried to
// patches of q = p / r voxels (r a whole factor along each axis). Why: smaller patches give more
// tokens per object, and the body (blocks, text path, time embedding) need not start over.
// Where the latent repeats each fine patch across the coarse patch (for q = 1: is constant over
// it), a fine token embeds as the coarse model embedded the coarse patch (patch_embedding's taps
// summed over the coarse taps each fine tap stands for), and emits the mean of the coarse
// outputs it stands for (head rows averaged). RoPE offsets count finer
// tokens afterwards, which training has to adapt to.
#include "kinema/dit.hpp"
#include "kinema/error.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {

namespace {

using Patch = std::array<int64_t, 3>;

// patch_embedding.weight [D, C, p...] -> [D, C, q...]: the taps of each r-block summed.
Tensor sum_tap_blocks(const Tensor& w, const Patch& p, const Patch& q) {
  const int64_t D = w.size(0), C = w.size(1), pv = p[0] * p[1] * p[2], qv = q[0] * q[1] * q[2];
  const std::vector<float> in = w.to_vector();
  std::vector<float> out(size_t(D * C * qv), 0.f);
  for (int64_t dc = 0; dc < D * C; ++dc)
    for (int64_t a = 0; a < p[0]; ++a)
      for (int64_t b = 0; b < p[1]; ++b)
        for (int64_t e = 0; e < p[2]; ++e) {
          const int64_t from = (a * p[1] + b) * p[2] + e;
          const int64_t to = ((a % q[0]) * q[1] + b % q[1]) * q[2] + e % q[2];
          out[size_t(dc * qv + to)] += in[size_t(dc * pv + from)];
        }
  return Tensor::from_vector(out, {D, C, q[0], q[1], q[2]});
}

// head.head rows (or bias) [pv * C, ...] in (pt, ph, pw, C) order -> [qv * C, ...]: each finer
// sub-position's row the mean of the coarse rows it stands for.
Tensor mean_head_rows(const Tensor& w, const Patch& p, const Patch& q, int64_t C) {
  const int64_t cols = w.ndim() == 2 ? w.size(1) : 1, qv = q[0] * q[1] * q[2];
  const float share = float(qv) / float(p[0] * p[1] * p[2]);
  const std::vector<float> in = w.to_vector();
  std::vector<float> out(size_t(qv * C * cols), 0.f);
  for (int64_t a = 0; a < p[0]; ++a)
    for (int64_t b = 0; b < p[1]; ++b)
      for (int64_t e = 0; e < p[2]; ++e) {
        const int64_t from = (a * p[1] + b) * p[2] + e;
        const int64_t to = ((a % q[0]) * q[1] + b % q[1]) * q[2] + e % q[2];
        for (int64_t i = 0; i < C * cols; ++i) out[size_t(to * C * cols + i)] += share * in[size_t(from * C * cols + i)];
      }
  return w.ndim() == 2 ? Tensor::from_vector(out, {qv * C, cols}) : Tensor::from_vector(out, {qv * C});
}

}  // namespace

void repatch_dit(TensorFile& dit, const std::array<int64_t, 3>& patch) {
  std::map<std::string, Tensor>& weights = dit.tensors;
  const DiTConfig c = infer_dit_config(weights, dit.metadata);
  const Patch& p = c.patch_size;
  if (p == patch) return;
  for (int i = 0; i < 3; ++i)
    check(patch[i] > 0 && p[size_t(i)] % patch[size_t(i)] == 0, "dit",
          "cannot carry weights with patch ", p[0], "x", p[1], "x", p[2], " to patch ", patch[0], "x", patch[1], "x",
          patch[2], ": each new patch side must divide the old one (a smaller patch, more tokens)");
  // Coarse tap a lies in fine patch a / q at its sub-position a % q: fine tap s stands for the
  // coarse taps with a % q = s, one in each of the p / q fine patches.
  weights["patch_embedding.weight"] = sum_tap_blocks(weights.at("patch_embedding.weight"), p, patch);
  weights["head.head.weight"] = mean_head_rows(weights.at("head.head.weight"), p, patch, c.out_dim);
  weights["head.head.bias"] = mean_head_rows(weights.at("head.head.bias"), p, patch, c.out_dim);
}

}  // namespace kinema
