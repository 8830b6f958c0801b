// A VAE twice as wide that computes the same function (Net2Net's function-preserving widening):
// training starts where the narrow VAE stopped, with the capacity of the wide one, and the
// latent space a DiT was trained on is unchanged at step 0.
//
// Every activation of C channels becomes 2C: channel j of the wide one is channel j mod C of the
// narrow one (two copies). Weights follow: an output axis copies its rows; an input axis copies
// its columns and splits each value w between the two copies as r·w and (1 - r)·w, r drawn in
// [0.3, 0.7] — the sum over both copies is w again, and the copies, identical at the start,
// see different weights downstream, so their gradients differ and they grow apart (equal halves
// would keep them twins forever). Channel RMS norm is unchanged by copying (the mean square of
// [x, x] over 2C is that of x over C). Two tensors are blocks along their output axis: an
// attention's to_qkv (q | k | v, each C) and a decoder time_conv (two frames, each C); and
// attention's 1/sqrt(C) becomes 1/sqrt(2C) while q·k doubles, so q's rows are scaled by
// 1/sqrt(2). z (conv1, conv2, the heads' latent and pixel sides) keeps its width.
#include <cmath>

#include "kinema/error.hpp"
#include "kinema/vae_train.hpp"

namespace kinema {
namespace {

// FNV-1a of (seed, name): the per-tensor part of split_ratio's hash.
uint64_t tensor_seed(uint64_t seed, const std::string& name) {
  uint64_t h = seed ^ 0x9E3779B97F4A7C15ull;
  for (char ch : name) h = (h ^ uint8_t(ch)) * 0x100000001B3ull;
  return h;
}

// A value in [0.3, 0.7] from a hash of (tensor_seed, element index): the input-axis split.
float split_ratio(uint64_t h, int64_t index) {
  h ^= uint64_t(index) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h ^= h >> 33, h *= 0xFF51AFD7ED558CCDull, h ^= h >> 33, h *= 0xC4CEB9FE1A85EC53ull, h ^= h >> 33;
  return 0.3f + 0.4f * float(h >> 40) / float(1u << 24);
}

// One tensor of the wide VAE from the narrow one's (old shape -> new shape, each axis the same
// size or twice it).
Tensor widen_tensor(const std::string& name, const Tensor& narrow, const Shape& wide, uint64_t seed) {
  const Shape& old = narrow.shape();
  check(old.size() == wide.size(), "vae widen", name, ": rank changed");
  const int nd = int(old.size());
  // axis 0 in blocks: q|k|v of an attention, the two frames of a decoder time_conv
  int64_t blocks = 1;
  if (name.ends_with("to_qkv.weight") || name.ends_with("to_qkv.bias")) blocks = 3;
  if (name.starts_with("decoder.") && (name.ends_with("time_conv.weight") || name.ends_with("time_conv.bias")))
    blocks = 2;
  const float q_scale = blocks == 3 ? float(1 / std::sqrt(2.0)) : 1.f;
  const uint64_t hash = tensor_seed(seed, name);
  const std::vector<float> src = narrow.to_vector();
  std::vector<float> dst(size_t(shape_numel(wide)));
  std::vector<int64_t> idx(size_t(nd), 0), old_stride(size_t(nd), 1);
  for (int a = nd - 2; a >= 0; --a) old_stride[size_t(a)] = old_stride[size_t(a) + 1] * old[size_t(a) + 1];
  for (size_t e = 0; e < dst.size(); ++e) {
    int64_t o = 0;
    float f = 1.f;
    for (int a = 0; a < nd; ++a) {
      const int64_t i = idx[size_t(a)], n = wide[size_t(a)], m = old[size_t(a)];
      int64_t j = i;
      if (n != m) {
        check(n == 2 * m, "vae widen", name, ": axis ", a, " goes from ", m, " to ", n, "; expected twice");
        if (a == 0) {
          const int64_t nb = n / blocks, mb = m / blocks, b = i / nb;
          j = b * mb + (i % nb) % mb;
          if (blocks == 3 && b == 0) f *= q_scale;
        } else {
          j = i % m;
          if (a == 1) {
            int64_t key = 0;  // the pair (i, i + m) shares one ratio
            for (int k = 0; k < nd; ++k) key = key * wide[size_t(k)] + (k == 1 ? j : idx[size_t(k)]);
            const float r = split_ratio(hash, key);
            f *= i < m ? r : 1.f - r;
          }
        }
      }
      o += j * old_stride[size_t(a)];
    }
    dst[e] = src[size_t(o)] * f;
    for (int a = nd - 1; a >= 0 && ++idx[size_t(a)] == wide[size_t(a)]; --a) idx[size_t(a)] = 0;
  }
  return Tensor::from_vector(dst, wide);
}

}  // namespace

TensorFile widen_vae(const TensorFile& narrow_file, uint64_t seed, bool decoder_only) {
  const VAE narrow = VAE::from_tensors(narrow_file);  // checks every key and shape
  VaeConfig c = narrow.config();
  check(c.layout == VaeLayout::wan21 && c.patch_size == 1, "vae widen",
        "widening supports Wan2.1-layout VAEs on plain pixels (kinema's default); this one ",
        c.layout == VaeLayout::wan21 ? "patchifies its input" : "has Wan2.2's layout");
  const int64_t decoder_width = c.decoder_width();
  if (!decoder_only) c.dim *= 2;
  c.decoder_dim = 2 * decoder_width;
  if (c.decoder_dim == c.dim) c.decoder_dim = 0;  // as the loader infers it back
  TensorFile out;
  out.metadata = narrow_file.metadata;  // latent statistics stay valid: the latents are the same
  for (const auto& [name, shape] : vae_parameter_shapes(c)) {
    const Tensor w = narrow.weight(name);
    out.tensors[name] = w.shape() == shape ? w.detach() : widen_tensor(name, w, shape, seed);
  }
  VAE::from_tensors(out);  // the wide file must load
  return out;
}

}  // namespace kinema
