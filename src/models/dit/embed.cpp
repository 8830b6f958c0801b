// The DiT's ends: patch embedding (in), timestep and text embeddings, and the modulated head with
// unpatchify (out). Wan2.1 modules: patch_embedding (Conv3d, stride = kernel), text_embedding
// (Linear, GELU(tanh), Linear), time_embedding (Linear, SiLU, Linear), time_projection
// (SiLU, Linear -> 6 x dim), Head (LayerNorm without affine, modulation [1, 2, dim], Linear).
#include <cmath>

#include "kinema/error.hpp"
#include "models/dit/dit_internal.hpp"

namespace kinema::dit {

Tensor Run::param(const std::string& name) const {
  const Tensor& w = model.weight(name);
  return is_quantized(w.dtype()) ? cast(w, DType::f32) : w;
}

Tensor Run::linear(const Tensor& x, const std::string& prefix) const {
  return linear(x, prefix, options.compute);
}

Tensor Run::linear(const Tensor& x, const std::string& prefix, DType compute) const {
  return linear_with(x, model.weight(prefix + ".weight"), model.weight(prefix + ".bias"), compute);
}

// Products in the compute dtype, f32 out and f32 gradients (linear_autocast); quantized weights
// stay quantized (linear dequantizes them on the fly).
Tensor Run::linear_with(const Tensor& x, const Tensor& w, const Tensor& b, DType compute) const {
  return linear_autocast(x, w, b, compute);
}

namespace {

// x [B, K, T, H, W] on run's patch grid -> [B, N, dim] through the Conv3d `name` (stride = kernel):
// one GEMM over flattened patches.
Tensor embed_patches(const Run& run, Tensor x, const std::string& name) {
  const DiTConfig& c = run.config();
  const auto& [pt, ph, pw] = c.patch_size;
  const int64_t B = x.size(0), K = x.size(1), N = run.grid_t * run.grid_h * run.grid_w, P = c.patch_volume();
  x = reshape(x, {B, K, run.grid_t, pt, run.grid_h, ph, run.grid_w, pw});  // [B, K, T', pt, H', ph, W', pw]
  x = permute(x, {0, 2, 4, 6, 1, 3, 5, 7});                                 // [B, T', H', W', K, pt, ph, pw]
  x = reshape(x, {B, N, K * P});                                            // [B, N, K*pt*ph*pw]
  Tensor w = reshape(run.param(name + ".weight"), {c.dim, K * P});          // [dim, K*pt*ph*pw]
  return run.linear_with(x, w, run.model.weight(name + ".bias"), run.options.compute);  // [B, N, dim]
}

}  // namespace

Tensor patchify(Run& run, const Tensor& x_in) {
  const DiTConfig& c = run.config();
  KINEMA_CHECK(x_in.ndim() == 5, "dit", "latent must be [B, C, T, H, W]; got ", shape_str(x_in.shape()));
  int64_t B = x_in.size(0), T = x_in.size(2), H = x_in.size(3), W = x_in.size(4);
  const Tensor& cond = run.options.condition;
  int64_t cond_ch = cond.defined() ? cond.size(1) : 0;
  KINEMA_CHECK(x_in.size(1) + cond_ch == c.in_dim, "dit", "latent has ", x_in.size(1), " channels",
               cond.defined() ? " + " + std::to_string(cond_ch) + " condition channels" : std::string(),
               "; patch_embedding expects in_dim ", c.in_dim,
               c.in_dim > x_in.size(1) && !cond.defined() ? " (pass the extra channels as options.condition)" : "");
  const auto& [pt, ph, pw] = c.patch_size;
  KINEMA_CHECK(T % pt == 0 && H % ph == 0 && W % pw == 0, "dit", "latent T x H x W = ", T, "x", H, "x",
               W, " is not divisible by the patch size ", pt, "x", ph, "x", pw);
  Tensor x = cast(x_in, DType::f32);
  if (cond.defined()) {
    KINEMA_CHECK(cond.ndim() == 5 && cond.size(0) == B && cond.size(2) == T && cond.size(3) == H &&
                     cond.size(4) == W,
                 "dit", "condition ", shape_str(cond.shape()), " must be [B, in_dim - C, T, H, W] = [",
                 B, ", ", c.in_dim - x_in.size(1), ", ", T, ", ", H, ", ", W, "]");
    x = concat({x, cast(cond, DType::f32)}, 1);  // [B, in_dim, T, H, W]
  }
  run.grid_t = T / pt, run.grid_h = H / ph, run.grid_w = W / pw;
  return embed_patches(run, x, "patch_embedding");
}

Tensor layout_tokens(const Run& run, int64_t batch) {
  const DiTConfig& c = run.config();
  const auto& [pt, ph, pw] = c.patch_size;
  const Shape want{batch, c.layout_channels, run.grid_t * pt, run.grid_h * ph, run.grid_w * pw};
  const Tensor& layout = run.options.layout;
  if (!layout.defined()) return embed_patches(run, Tensor::zeros(want), "layout_embedding");
  KINEMA_CHECK(layout.shape() == want, "dit", "layout ", shape_str(layout.shape()), " must be [B, K, T, H, W] = ",
               shape_str(want), " (K = the model's layout channels, T, H, W the latent's)");
  return embed_patches(run, cast(layout, DType::f32), "layout_embedding");
}

Tensor unpatchify(const Run& run, const Tensor& tokens) {
  const DiTConfig& c = run.config();
  const auto& [pt, ph, pw] = c.patch_size;
  int64_t B = tokens.size(0);
  // Wan's head emits each patch as (pt, ph, pw, C) with C innermost.
  Tensor x = reshape(tokens, {B, run.grid_t, run.grid_h, run.grid_w, pt, ph, pw, c.out_dim});  // [B, T', H', W', pt, ph, pw, C]
  x = permute(x, {0, 7, 1, 4, 2, 5, 3, 6});  // [B, C, T', pt, H', ph, W', pw]
  return reshape(x, {B, c.out_dim, run.grid_t * pt, run.grid_h * ph, run.grid_w * pw});  // [B, C, T, H, W]
}

Tensor sinusoidal_embedding(const Tensor& t, int64_t freq_dim) {
  std::vector<float> ts = t.to_vector();
  int64_t B = t.numel(), half = freq_dim / 2;
  std::vector<float> out(size_t(B * freq_dim));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < half; ++i) {
      // float64 like Wan's sinusoidal_embedding_1d: t up to 1000 needs more than f32's 24 bits
      double a = double(ts[size_t(b)]) * std::pow(10000.0, -double(i) / double(half));
      out[size_t(b * freq_dim + i)] = float(std::cos(a));
      out[size_t(b * freq_dim + half + i)] = float(std::sin(a));
    }
  return Tensor::from_vector(out, {B, freq_dim});  // [B, freq_dim]
}

Tensor text_embedding(const Run& run, const Tensor& context) {
  Tensor h = run.linear(context, "text_embedding.0");  // [B, L, dim]
  return run.linear(gelu(h, GeluApprox::tanh), "text_embedding.2");  // [B, L, dim]
}

Tensor image_embedding(const Run& run, const Tensor& clip) {
  const DiTConfig& c = run.config();
  Tensor x = clip;  // [B, Li, image_dim]
  if (c.image_tokens > 0) x = add(x, run.param("img_emb.emb_pos"));  // FLF2V: which image a token is from
  // torch.nn.LayerNorm's default eps (1e-5), not the blocks' 1e-6; GELU is the exact (erf) one.
  x = layer_norm(x, run.param("img_emb.proj.0.weight"), run.param("img_emb.proj.0.bias"), 1e-5f);
  x = gelu(run.linear(x, "img_emb.proj.1"), GeluApprox::none);
  x = run.linear(x, "img_emb.proj.3");  // [B, Li, dim]
  return layer_norm(x, run.param("img_emb.proj.4.weight"), run.param("img_emb.proj.4.bias"), 1e-5f);
}

Tensor head(const Run& run, const Tensor& x, const Tensor& e) {
  const DiTConfig& c = run.config();
  int64_t B = x.size(0);
  Tensor shift, scale;  // [B, 1, dim], or per token [B, N, dim]
  if (e.ndim() == 2) {
    Tensor mod = add(run.param("head.modulation"), reshape(e, {B, 1, c.dim}));  // [B, 2, dim]
    shift = slice(mod, 1, 0, 1), scale = slice(mod, 1, 1, 2);
  } else {
    const int64_t N = e.size(1);
    Tensor mod = add(reshape(run.param("head.modulation"), {1, 1, 2, c.dim}), reshape(e, {B, N, 1, c.dim}));  // [B, N, 2, dim]
    shift = reshape(slice(mod, 2, 0, 1), {B, N, c.dim}), scale = reshape(slice(mod, 2, 1, 2), {B, N, c.dim});
  }
  Tensor h = add(mul(layer_norm(x, {}, {}, c.eps), add_scalar(scale, 1.f)), shift);  // [B, N, dim]
  // Wan runs the head under autocast(float32).
  return run.linear(h, "head.head", DType::f32);  // [B, N, C_out*pt*ph*pw]
}

}  // namespace kinema::dit
