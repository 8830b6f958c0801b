// One DiT block, Wan2.1's WanAttentionBlock:
//   e = modulation [1, 6, D] + e0 [B, 6, D]  ->  shift/scale/gate for attention and MLP
//       (Wan2.2's per-token timesteps: e0 [B, N, 6, D], one modulation per token)
//   x += self_attn(LN(x) * (1 + e1) + e0) * e2      RMSNorm on q, k (over all heads); 3D RoPE
//   x += cross_attn(norm3(x), context)              norm3: affine LayerNorm (cross_attn_norm)
//   x += ffn(LN(x) * (1 + e4) + e3) * e5            Linear, GELU(tanh), Linear
// LN is LayerNorm without affine parameters, eps 1e-6.
#include "kinema/error.hpp"
#include "models/dit/dit_internal.hpp"

namespace kinema::dit {
namespace {

// [B, N, D] -> [B, N, heads, D / heads]
Tensor split_heads(const Tensor& x, int64_t heads) {
  return reshape(x, {x.size(0), x.size(1), heads, x.size(2) / heads});  // [B, N, h, hd]
}

// The q or k projection of attention `prefix`, RMS-normalised over the full width when the
// model has qk_norm, split into heads.
Tensor project_qk(const Run& run, const std::string& prefix, const char* which, const Tensor& x) {
  const DiTConfig& c = run.config();
  Tensor y = run.linear(x, prefix + "." + which);  // [B, N, D]
  if (c.qk_norm) y = rms_norm(y, run.param(prefix + ".norm_" + which + ".weight"), c.eps);
  return split_heads(y, c.num_heads);  // [B, N, h, hd]
}

// q [B, Nq, h, hd], k/v [B, Nk, h, hd] -> [B, Nq, h, hd] f32. Under bf16 compute the products
// are bf16, as Wan's flash_attention casts q, k, v (its `half`): on a CPU with bf16 dot products
// the bf16 flash kernels round them as they pack them (bf16_products), with no cast passes;
// the output and the gradients stay f32.
Tensor attend_heads(const Run& run, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
  AttentionOptions ao;
  ao.bf16_products = run.options.compute == DType::bf16;
  Tensor o = attention(permute(q, {0, 2, 1, 3}), permute(k, {0, 2, 1, 3}), permute(v, {0, 2, 1, 3}), mask,
                       ao);  // [B, h, Nq, hd]
  return permute(o, {0, 2, 1, 3});
}

// q [B, Nq, h, hd], k/v [B, Nk, h, hd] -> [B, Nq, h*hd]
Tensor attend(const Run& run, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
  Tensor o = attend_heads(run, q, k, v, mask);  // [B, Nq, h, hd]
  return reshape(o, {q.size(0), q.size(1), q.size(2) * q.size(3)});  // [B, Nq, D]
}

Tensor self_attention(const Run& run, const std::string& prefix, const Tensor& x) {
  const DiTConfig& c = run.config();
  Rope3dOptions rope;  // Wan's split of head_dim / 2 pairs: t gets the rest, h and w a third each
  rope.t = run.grid_t, rope.h = run.grid_h, rope.w = run.grid_w;
  rope.theta = c.rope_theta;
  Tensor q = project_qk(run, prefix, "q", x);                         // [B, N, h, hd]
  Tensor k = project_qk(run, prefix, "k", x);                         // [B, N, h, hd]
  Tensor v = split_heads(run.linear(x, prefix + ".v"), c.num_heads);  // [B, N, h, hd]
  if (run.shard) {  // my tokens, every head -> every token, my heads (RoPE needs the whole grid)
    q = run.shard->tokens_to_heads(q), k = run.shard->tokens_to_heads(k), v = run.shard->tokens_to_heads(v);
    Tensor o = attend_heads(run, rope3d(q, rope), rope3d(k, rope), v, {});  // [B, N, h / ranks, hd]
    o = run.shard->heads_to_tokens(o);                    // [B, n, h, hd]
    return run.linear(reshape(o, {o.size(0), o.size(1), c.dim}), prefix + ".o");  // [B, n, D]
  }
  return run.linear(attend(run, rope3d(q, rope), rope3d(k, rope), v, {}), prefix + ".o");  // [B, N, D]
}

// Text tokens, and (Wan I2V/FLF2V) the image tokens in front of them, each attended on its own
// (text under the text mask) and summed before the output projection.
Tensor cross_attention(const Run& run, const std::string& prefix, const Tensor& x,
                       const Tensor& context_all) {
  const DiTConfig& c = run.config();
  const int64_t Li = run.image_tokens, L = context_all.size(1);
  Tensor context = Li > 0 ? slice(context_all, 1, Li, L) : context_all;     // [B, L, D]
  Tensor q = project_qk(run, prefix, "q", x);                                // [B, N, h, hd]
  Tensor k = project_qk(run, prefix, "k", context);                          // [B, L, h, hd]
  Tensor v = split_heads(run.linear(context, prefix + ".v"), c.num_heads);  // [B, L, h, hd]
  Tensor out = attend(run, q, k, v, run.context_mask);                            // [B, N, D]
  if (Li > 0) {
    Tensor image = slice(context_all, 1, 0, Li);                                   // [B, Li, D]
    Tensor ki = project_qk(run, prefix, "k_img", image);                           // [B, Li, h, hd]
    Tensor vi = split_heads(run.linear(image, prefix + ".v_img"), c.num_heads);   // [B, Li, h, hd]
    out = add(out, attend(run, q, ki, vi, {}));
  }
  return run.linear(out, prefix + ".o");  // [B, N, D]
}

// LN(x) * (1 + scale) + shift; x [B, N, D], shift/scale [B, 1, D] or [B, N, D]
Tensor modulate(const Run& run, const Tensor& x, const Tensor& shift, const Tensor& scale) {
  return adaln_modulate(x, shift, scale, run.config().eps);  // [B, N, D]
}

}  // namespace

Tensor attention_block(const Run& run, int layer, const Tensor& x_in, const Tensor& e0,
                       const Tensor& context) {
  const DiTConfig& c = run.config();
  std::string b = "blocks." + std::to_string(layer);
  Tensor e = add(run.param(b + ".modulation"), e0);  // [B, 6, D], or per token [B, N, 6, D]
  auto chunk = [&](int i) {                          // [B, 1, D] or [B, N, D]
    if (e.ndim() == 3) return slice(e, 1, i, i + 1);
    return reshape(slice(e, 2, i, i + 1), {e.size(0), e.size(1), c.dim});
  };

  Tensor x = x_in;
  Tensor y = self_attention(run, b + ".self_attn", modulate(run, x, chunk(0), chunk(1)));  // [B, N, D]
  x = add(x, mul(y, chunk(2)));

  Tensor h = c.cross_attn_norm
                 ? layer_norm(x, run.param(b + ".norm3.weight"), run.param(b + ".norm3.bias"), c.eps)
                 : x;  // [B, N, D]
  x = add(x, cross_attention(run, b + ".cross_attn", h, context));

  Tensor f = run.linear(modulate(run, x, chunk(3), chunk(4)), b + ".ffn.0");  // [B, N, ffn_dim]
  y = run.linear(gelu(f, GeluApprox::tanh), b + ".ffn.2");                    // [B, N, D]
  return add(x, mul(y, chunk(5)));                                            // [B, N, D]
}

}  // namespace kinema::dit
