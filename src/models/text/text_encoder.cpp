// The text encoder as a whole: weights (init, load, save), parameters and forward, following
// Wan2.1's T5Encoder (wan/modules/t5.py) with dropout left out (kinema trains without it).
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/text_encoder.hpp"
#include "models/weight_map.hpp"

namespace kinema {
namespace {

constexpr const char* kWhere = "text_encoder";
// Added to the scores of padding keys. Wan adds finfo(float32).min; any value whose exp
// underflows to zero after the row maximum is subtracted gives the same softmax.
constexpr float kMasked = -1e30f;

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// One tensor as Wan's init_weights makes it: N(0, std) with T5's per-layer std, ones for norms.
std::vector<float> init_values(const std::string& name, const Shape& shape,
                               const TextEncoderConfig& c, TextEncoderInit init,
                               std::mt19937_64& rng) {
  std::vector<float> v(size_t(shape_numel(shape)), 1.f);
  std::normal_distribution<float> normal(0.f, 1.f);
  if (ends_with(name, "norm1.weight") || ends_with(name, "norm2.weight") || name == "norm.weight") {
    if (init == TextEncoderInit::random)
      for (float& x : v) x = 1.f + 0.1f * normal(rng);
    return v;
  }
  double std = 1.0;  // token_embedding: nn.Embedding's N(0, 1)
  if (ends_with(name, "attn.q.weight")) std = 1.0 / std::sqrt(double(c.dim * c.dim_attn));
  else if (ends_with(name, "attn.k.weight") || ends_with(name, "attn.v.weight")) std = 1.0 / std::sqrt(double(c.dim));
  else if (ends_with(name, "attn.o.weight")) std = 1.0 / std::sqrt(double(c.num_heads * c.dim_attn));
  else if (ends_with(name, "gate.0.weight") || ends_with(name, "fc1.weight")) std = 1.0 / std::sqrt(double(c.dim));
  else if (ends_with(name, "fc2.weight")) std = 1.0 / std::sqrt(double(c.ffn_dim));
  else if (ends_with(name, "pos_embedding.embedding.weight"))
    std = 1.0 / std::sqrt(double(2 * c.num_buckets * c.num_heads));
  if (init == TextEncoderInit::random && ends_with(name, "attn.q.weight"))
    std = 1.0 / std::sqrt(double(c.dim));  // unscaled q so tests see non-flat attention
  for (float& x : v) x = float(std) * normal(rng);
  return v;
}

// An f32 copy that owns its storage, so training never writes into the caller's buffer.
Tensor f32_copy(const Tensor& t) {
  Tensor f = contiguous(cast(t, DType::f32));
  Tensor out = Tensor::empty(t.shape());
  std::memcpy(out.raw_data(), f.raw_data(), size_t(t.numel()) * 4);
  return out;
}

// What one forward call shares between blocks. Options are held by value so a checkpointed
// block can run again during backward after forward's caller has dropped them.
struct Run {
  const TextEncoder& model;
  TextEncoderForwardOptions options;
  int64_t B = 0, L = 0;
  std::vector<int32_t> buckets;  // [L, L]: bucket of (key j - query i)
  Tensor padding;                // [B, 1, 1, L] additive, or undefined

  const TextEncoderConfig& config() const { return model.config(); }
  Tensor param(const std::string& name) const {  // norm weights, tables: f32-compatible
    const Tensor& w = model.weight(name);
    return is_quantized(w.dtype()) ? cast(w, DType::f32) : w;
  }
  // bias-free nn.Linear, products in the compute dtype; returns f32 (linear_autocast)
  Tensor linear(const Tensor& x, const std::string& name) const {
    return linear_autocast(x, model.weight(name), {}, options.compute);
  }
};

// The position bias of table `name` [num_buckets, heads] plus the padding mask:
// [1 or B, heads, L, L].
Tensor attention_bias(const Run& run, const std::string& name) {
  const TextEncoderConfig& c = run.config();
  Tensor e = embedding(run.param(name), run.buckets, {run.L, run.L});  // [L, L, h]
  e = reshape(permute(e, {2, 0, 1}), {1, c.num_heads, run.L, run.L});  // [1, h, L, L]
  return run.padding.defined() ? add(e, run.padding) : cast(e, DType::f32);  // [B, h, L, L]
}

// T5Attention without scaling: softmax(q k^T + bias) v. x [B, L, dim] -> [B, L, dim]
Tensor self_attention(const Run& run, const std::string& b, const Tensor& x, const Tensor& bias) {
  const TextEncoderConfig& c = run.config();
  Shape heads{run.B, run.L, c.num_heads, c.head_dim()};
  Tensor q = permute(reshape(run.linear(x, b + ".attn.q.weight"), heads), {0, 2, 1, 3});  // [B, h, L, hd]
  Tensor k = permute(reshape(run.linear(x, b + ".attn.k.weight"), heads), {0, 2, 1, 3});  // [B, h, L, hd]
  Tensor v = permute(reshape(run.linear(x, b + ".attn.v.weight"), heads), {0, 2, 1, 3});  // [B, h, L, hd]
  Tensor o;
  if (grad_enabled() && bias.requires_grad()) {
    // The flash attention op treats its mask as a constant; the learned position bias needs
    // its gradient, so training composes attention from ops ([B, h, L, L] is small for text).
    Tensor s = add(matmul(q, transpose(k, 2, 3)), bias);  // [B, h, L, L]
    o = matmul(softmax(s, -1), v);                        // [B, h, L, hd]
  } else {
    AttentionOptions unscaled;
    unscaled.scale = 1.f;
    o = attention(q, k, v, bias, unscaled);  // [B, h, L, hd]
  }
  o = reshape(permute(o, {0, 2, 1, 3}), {run.B, run.L, c.dim_attn});  // [B, L, dim_attn]
  return run.linear(o, b + ".attn.o.weight");                          // [B, L, dim]
}

// T5SelfAttention (the encoder block). x [B, L, dim] -> [B, L, dim]
Tensor encoder_block(const Run& run, int layer, const Tensor& x_in, const Tensor& shared_bias) {
  const TextEncoderConfig& c = run.config();
  std::string b = "blocks." + std::to_string(layer);
  Tensor bias = c.shared_pos ? shared_bias : attention_bias(run, b + ".pos_embedding.embedding.weight");
  Tensor h = rms_norm(x_in, run.param(b + ".norm1.weight"), c.eps);  // [B, L, dim]
  Tensor x = add(x_in, self_attention(run, b, h, bias));              // [B, L, dim]
  h = rms_norm(x, run.param(b + ".norm2.weight"), c.eps);             // [B, L, dim]
  Tensor gate = gelu(run.linear(h, b + ".ffn.gate.0.weight"), GeluApprox::tanh);  // [B, L, ffn]
  Tensor f = mul(run.linear(h, b + ".ffn.fc1.weight"), gate);                     // [B, L, ffn]
  return add(x, run.linear(f, b + ".ffn.fc2.weight"));                            // [B, L, dim]
}

}  // namespace

TextEncoder TextEncoder::init_random(const TextEncoderConfig& config, uint64_t seed,
                                     TextEncoderInit init) {
  TextEncoder m;
  m.config_ = config;
  std::mt19937_64 rng(seed);
  for (const auto& [name, shape] : text_encoder_parameter_shapes(config))
    m.weights_[name] =
        Tensor::from_vector(init_values(name, shape, config, init, rng), shape).set_requires_grad();
  return m;
}

TextEncoder TextEncoder::from_tensors(const TensorFile& file, const TextEncoderLoadOptions& options) {
  TextEncoder m;
  m.config_ = infer_text_encoder_config(file.tensors, file.metadata);
  const TextEncoderConfig& c = m.config_;
  std::set<std::string> expected;
  for (const auto& [name, shape] : text_encoder_parameter_shapes(c)) {
    expected.insert(name);
    auto it = file.tensors.find(name);
    KINEMA_CHECK(it != file.tensors.end(), kWhere, "missing tensor \"", name, "\" (inferred ",
                 c.num_layers, " layers, dim ", c.dim, ", ",
                 c.shared_pos ? "shared" : "per-block", " position bias)");
    KINEMA_CHECK(it->second.shape() == shape, kWhere, "tensor \"", name, "\" has shape ",
                 shape_str(it->second.shape()), "; expected ", shape_str(shape), " (inferred dim ",
                 c.dim, ", dim_attn ", c.dim_attn, ", ffn_dim ", c.ffn_dim, ", heads ", c.num_heads,
                 ", buckets ", c.num_buckets, ")");
    m.weights_[name] = options.trainable ? f32_copy(it->second).set_requires_grad() : it->second;
  }
  for (const auto& [name, _] : file.tensors)
    KINEMA_CHECK(expected.count(name), kWhere, "unexpected tensor \"", name,
                 "\" for a T5 encoder with ", c.num_layers, " layers");
  return m;
}

TensorFile TextEncoder::to_tensors() const {
  TensorFile f;
  for (const auto& [name, t] : weights_) f.tensors[name] = t.detach();
  f.metadata["model"] = "kinema.text_encoder";
  f.metadata["max_distance"] = std::to_string(config_.max_distance);
  return f;
}

std::vector<Tensor> TextEncoder::parameters() const {
  std::vector<Tensor> out;
  for (const auto& [name, _] : text_encoder_parameter_shapes(config_)) out.push_back(weights_.at(name));
  return out;
}

const Tensor& TextEncoder::weight(const std::string& name) const {
  return find_weight(weights_, name, kWhere);
}

Tensor TextEncoder::forward(const TokenBatch& tokens, const TextEncoderForwardOptions& options) const {
  const TextEncoderConfig& c = config_;
  KINEMA_CHECK(options.compute == DType::f32 || options.compute == DType::bf16, kWhere,
               "compute dtype must be f32 or bf16; got ", dtype_name(options.compute));
  int64_t B = tokens.batch, L = tokens.length;
  KINEMA_CHECK(B > 0 && L > 0 && int64_t(tokens.ids.size()) == B * L, kWhere,
               "ids must hold batch x length = ", B, " x ", L, " ids; got ", tokens.ids.size());
  KINEMA_CHECK(tokens.mask.empty() || int64_t(tokens.mask.size()) == B * L, kWhere,
               "mask must be empty or hold ", B * L, " values; got ", tokens.mask.size());
  Run run{*this, options, B, L, std::vector<int32_t>(size_t(L * L)), {}};
  for (int64_t i = 0; i < L; ++i)  // query i, key j
    for (int64_t j = 0; j < L; ++j)
      run.buckets[size_t(i * L + j)] =
          int32_t(t5_relative_position_bucket(j - i, c.num_buckets, c.max_distance));
  bool padded = false;
  std::vector<float> pad(size_t(B * L), 0.f);
  for (int64_t b = 0; b < B && !tokens.mask.empty(); ++b) {
    int64_t valid = 0;
    for (int64_t j = 0; j < L; ++j) {
      bool on = tokens.mask[size_t(b * L + j)] != 0;
      valid += on;
      if (!on) pad[size_t(b * L + j)] = kMasked, padded = true;
    }
    KINEMA_CHECK(valid > 0, kWhere, "row ", b, " of the mask has no valid token");
  }
  if (padded) run.padding = Tensor::from_vector(pad, {B, 1, 1, L});  // [B, 1, 1, L]
  auto trace = [&](const std::string& name, const Tensor& v) {
    if (options.trace) (*options.trace)[name] = v;
  };

  Tensor x = cast(embedding(weight("token_embedding.weight"), tokens.ids, {B, L}), DType::f32);  // [B, L, dim]
  trace("token_embedding", x);
  Tensor shared = c.shared_pos ? attention_bias(run, "pos_embedding.embedding.weight") : Tensor();
  bool recompute = options.checkpointing == TextEncoderCheckpointing::blocks && grad_enabled();
  Run saved = run;  // what a checkpointed block needs again in backward
  saved.options.trace = nullptr;
  for (int i = 0; i < int(c.num_layers); ++i) {
    if (recompute && c.shared_pos)  // the shared bias is not a leaf: it goes in as an input
      x = checkpoint([saved, i](const std::vector<Tensor>& in) {
        return encoder_block(saved, i, in[0], in[1]);
      }, {x, shared});  // [B, L, dim]
    else if (recompute)
      x = checkpoint([saved, i](const std::vector<Tensor>& in) {
        return encoder_block(saved, i, in[0], Tensor());
      }, {x});  // [B, L, dim]
    else
      x = encoder_block(run, i, x, shared);  // [B, L, dim]
    trace("blocks." + std::to_string(i), x);
  }
  x = rms_norm(x, run.param("norm.weight"), c.eps);  // [B, L, dim]
  trace("norm", x);
  return x;
}

}  // namespace kinema
