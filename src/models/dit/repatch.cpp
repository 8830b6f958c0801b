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

// For each coarse sub-position (pt, ph, pw order), the fine sub-position it lies at: coarse tap
// a lies in fine patch a / q at its sub-position a % q, so fine tap s stands for the coarse taps
// with a % q = s, one in each of the p / q fine patches.
std::vector<int64_t> fine_positions(const Patch& p, const Patch& q) {
  std::vector<int64_t> to;
  for (int64_t a = 0; a < p[0]; ++a)
    for (int64_t b = 0; b < p[1]; ++b)
      for (int64_t e = 0; e < p[2]; ++e) to.push_back(((a % q[0]) * q[1] + b % q[1]) * q[2] + e % q[2]);
  return to;
}

int64_t volume(const Patch& p) { return p[0] * p[1] * p[2]; }

// patch_embedding.weight [D, C, p...] -> [D, C, q...]: the coarse taps each fine tap stands for, summed.
Tensor sum_taps(const Tensor& w, const Patch& p, const Patch& q) {
  const int64_t DC = w.size(0) * w.size(1), pv = volume(p), qv = volume(q);
  const std::vector<int64_t> to = fine_positions(p, q);
  const std::vector<float> in = w.to_vector();
  std::vector<float> out(size_t(DC * qv), 0.f);
  for (int64_t dc = 0; dc < DC; ++dc)
    for (int64_t from = 0; from < pv; ++from) out[size_t(dc * qv + to[size_t(from)])] += in[size_t(dc * pv + from)];
  return Tensor::from_vector(out, {w.size(0), w.size(1), q[0], q[1], q[2]});
}

// head.head rows (or bias) [pv * C, ...] in (pt, ph, pw, C) order -> [qv * C, ...]: each fine
// sub-position's row the mean of the coarse rows it stands for.
Tensor mean_head_rows(const Tensor& w, const Patch& p, const Patch& q, int64_t C) {
  const int64_t row = C * (w.ndim() == 2 ? w.size(1) : 1), pv = volume(p), qv = volume(q);
  const float share = float(qv) / float(pv);
  const std::vector<int64_t> to = fine_positions(p, q);
  const std::vector<float> in = w.to_vector();
  std::vector<float> out(size_t(qv * row), 0.f);
  for (int64_t from = 0; from < pv; ++from)
    for (int64_t i = 0; i < row; ++i) out[size_t(to[size_t(from)] * row + i)] += share * in[size_t(from * row + i)];
  Shape shape = w.shape();
  shape[0] = qv * C;
  return Tensor::from_vector(out, shape);
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
  weights["patch_embedding.weight"] = sum_taps(weights.at("patch_embedding.weight"), p, patch);
  weights["head.head.weight"] = mean_head_rows(weights.at("head.head.weight"), p, patch, c.out_dim);
  weights["head.head.bias"] = mean_head_rows(weights.at("head.head.bias"), p, patch, c.out_dim);
}

}  // namespace kinema
