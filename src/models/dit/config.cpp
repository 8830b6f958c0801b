// DiT configuration: the parameter table (Wan checkpoint keys and shapes) and config inference
// from a checkpoint's names and shapes. The table is the one source of truth: init_random
// creates it, from_tensors checks a file against it, parameters() walks it.
#include <algorithm>
#include <cstdlib>
#include <set>

#include "kinema/dit.hpp"
#include "kinema/error.hpp"
#include "models/weight_map.hpp"

namespace kinema {
namespace {

constexpr int64_t kWanHeadDim = 128;  // every released Wan DiT (1.3B: 1536/12, 14B: 5120/40)

const Tensor& need(const std::map<std::string, Tensor>& t, const std::string& key, int ndim) {
  auto it = t.find(key);
  KINEMA_CHECK(it != t.end(), "dit", "missing tensor \"", key, "\"; not a Wan-style DiT checkpoint");
  KINEMA_CHECK(it->second.ndim() == ndim, "dit", "tensor \"", key, "\" has shape ",
               shape_str(it->second.shape()), "; expected ", ndim, " dims");
  return it->second;
}

void add_linear(std::vector<std::pair<std::string, Shape>>& out, const std::string& prefix,
                int64_t out_features, int64_t in_features) {
  out.emplace_back(prefix + ".weight", Shape{out_features, in_features});
  out.emplace_back(prefix + ".bias", Shape{out_features});
}

void add_attention(std::vector<std::pair<std::string, Shape>>& out, const std::string& prefix,
                   const DiTConfig& c) {
  for (const char* p : {"q", "k", "v", "o"}) add_linear(out, prefix + "." + p, c.dim, c.dim);
  if (c.qk_norm) {
    out.emplace_back(prefix + ".norm_q.weight", Shape{c.dim});
    out.emplace_back(prefix + ".norm_k.weight", Shape{c.dim});
  }
}

int64_t infer_heads(int64_t dim, const std::map<std::string, std::string>& metadata) {
  auto it = metadata.find("num_heads");
  if (it != metadata.end()) {
    char* end = nullptr;
    long h = std::strtol(it->second.c_str(), &end, 10);
    KINEMA_CHECK(end != it->second.c_str() && *end == 0 && h > 0, "dit", "metadata num_heads \"",
                 it->second, "\" is not a positive integer");
    return h;
  }
  KINEMA_CHECK(dim % kWanHeadDim == 0, "dit", "cannot infer num_heads: dim ", dim,
               " is not a multiple of Wan's head dim ", kWanHeadDim,
               " and the file has no \"num_heads\" metadata");
  return dim / kWanHeadDim;
}

}  // namespace

void DiTConfig::validate() const {
  check(dim > 0 && ffn_dim > 0 && freq_dim > 0 && text_dim > 0 && num_layers >= 0 && in_dim > 0 &&
            out_dim > 0,
        "dit", "config sizes must be positive; got dim ", dim, ", ffn_dim ", ffn_dim, ", freq_dim ",
        freq_dim, ", text_dim ", text_dim, ", num_layers ", num_layers, ", in_dim ", in_dim,
        ", out_dim ", out_dim);
  check(num_heads > 0 && dim % num_heads == 0, "dit", "dim ", dim, " is not divisible by num_heads ",
        num_heads);
  check(head_dim() % 2 == 0, "dit", "head dim ", head_dim(), " must be even for RoPE");
  check(freq_dim % 2 == 0, "dit", "freq_dim ", freq_dim, " must be even");
  for (int64_t p : patch_size) check(p > 0, "dit", "patch sizes must be positive");
  check(in_dim >= out_dim, "dit", "in_dim ", in_dim, " < out_dim ", out_dim,
        "; conditioning channels are added to the input, never removed");
  check(layout_channels >= 0, "dit", "layout_channels must be >= 0; got ", layout_channels);
  check(image_dim >= 0 && image_tokens >= 0 && (image_tokens == 0 || image_dim > 0), "dit",
        "image_tokens ", image_tokens, " needs an image branch (image_dim > 0); got image_dim ", image_dim);
}

void add_missing_at_zero(std::map<std::string, Tensor>& weights, const DiTConfig& config) {
  for (const auto& [name, shape] : dit_parameter_shapes(config))
    if (!weights.count(name)) weights[name] = Tensor::zeros(shape);
}

std::vector<std::pair<std::string, Shape>> dit_parameter_shapes(const DiTConfig& c) {
  c.validate();
  std::vector<std::pair<std::string, Shape>> out;
  out.emplace_back("patch_embedding.weight",
                   Shape{c.dim, c.in_dim, c.patch_size[0], c.patch_size[1], c.patch_size[2]});
  out.emplace_back("patch_embedding.bias", Shape{c.dim});
  add_linear(out, "text_embedding.0", c.dim, c.text_dim);  // .1 is GELU(tanh)
  add_linear(out, "text_embedding.2", c.dim, c.dim);
  add_linear(out, "time_embedding.0", c.dim, c.freq_dim);  // .1 is SiLU
  add_linear(out, "time_embedding.2", c.dim, c.dim);
  add_linear(out, "time_projection.1", 6 * c.dim, c.dim);  // .0 is SiLU
  if (c.pooled_text) add_linear(out, "text_pool", c.dim, c.dim);
  if (c.absolute_position) add_linear(out, "pos_embedding", c.dim, kDiTPositionFeatures);
  if (c.layout_channels > 0) {
    out.emplace_back("layout_embedding.weight",
                     Shape{c.dim, c.layout_channels, c.patch_size[0], c.patch_size[1], c.patch_size[2]});
    out.emplace_back("layout_embedding.bias", Shape{c.dim});
  }
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string b = "blocks." + std::to_string(i);
    out.emplace_back(b + ".modulation", Shape{1, 6, c.dim});
    add_attention(out, b + ".self_attn", c);
    if (c.cross_attn_norm) {
      out.emplace_back(b + ".norm3.weight", Shape{c.dim});
      out.emplace_back(b + ".norm3.bias", Shape{c.dim});
    }
    add_attention(out, b + ".cross_attn", c);
    if (c.image_dim > 0) {
      add_linear(out, b + ".cross_attn.k_img", c.dim, c.dim);
      add_linear(out, b + ".cross_attn.v_img", c.dim, c.dim);
      if (c.qk_norm) out.emplace_back(b + ".cross_attn.norm_k_img.weight", Shape{c.dim});
    }
    add_linear(out, b + ".ffn.0", c.ffn_dim, c.dim);  // .1 is GELU(tanh)
    add_linear(out, b + ".ffn.2", c.dim, c.ffn_dim);
  }
  if (c.image_dim > 0) {  // Wan's MLPProj: LayerNorm, Linear, GELU, Linear, LayerNorm
    out.emplace_back("img_emb.proj.0.weight", Shape{c.image_dim});
    out.emplace_back("img_emb.proj.0.bias", Shape{c.image_dim});
    add_linear(out, "img_emb.proj.1", c.image_dim, c.image_dim);
    add_linear(out, "img_emb.proj.3", c.dim, c.image_dim);
    out.emplace_back("img_emb.proj.4.weight", Shape{c.dim});
    out.emplace_back("img_emb.proj.4.bias", Shape{c.dim});
    if (c.image_tokens > 0) out.emplace_back("img_emb.emb_pos", Shape{1, c.image_tokens, c.image_dim});
  }
  out.emplace_back("head.modulation", Shape{1, 2, c.dim});
  add_linear(out, "head.head", c.out_dim * c.patch_volume(), c.dim);
  return out;
}

bool is_dit_checkpoint(const std::map<std::string, Tensor>& t) {
  return t.count("patch_embedding.weight") && t.count("time_projection.1.weight") &&
         t.count("head.head.weight");
}

DiTConfig infer_dit_config(const std::map<std::string, Tensor>& t,
                           const std::map<std::string, std::string>& metadata) {
  DiTConfig c;
  if (t.count("img_emb.proj.1.weight")) {  // I2V / FLF2V
    c.image_dim = need(t, "img_emb.proj.1.weight", 2).size(1);
    if (auto it = t.find("img_emb.emb_pos"); it != t.end()) {
      KINEMA_CHECK(it->second.ndim() == 3 && it->second.size(2) == c.image_dim, "dit",
                   "tensor \"img_emb.emb_pos\" has shape ", shape_str(it->second.shape()), "; expected [1, N, ",
                   c.image_dim, "]");
      c.image_tokens = it->second.size(1);
    }
  }
  const Tensor& pe = need(t, "patch_embedding.weight", 5);  // [dim, in, pt, ph, pw]
  c.dim = pe.size(0);
  c.in_dim = pe.size(1);
  c.patch_size = {pe.size(2), pe.size(3), pe.size(4)};
  c.text_dim = need(t, "text_embedding.0.weight", 2).size(1);  // [dim, text_dim]
  c.freq_dim = need(t, "time_embedding.0.weight", 2).size(1);  // [dim, freq_dim]
  c.num_layers = count_blocks(t, "dit");
  c.ffn_dim = c.num_layers > 0 ? need(t, "blocks.0.ffn.0.weight", 2).size(0) : 4 * c.dim;
  c.qk_norm = c.num_layers == 0 || t.count("blocks.0.self_attn.norm_q.weight");
  c.cross_attn_norm = c.num_layers == 0 || t.count("blocks.0.norm3.weight");
  c.pooled_text = t.count("text_pool.weight") > 0;
  c.absolute_position = t.count("pos_embedding.weight") > 0;
  if (t.count("layout_embedding.weight")) {
    const Tensor& le = need(t, "layout_embedding.weight", 5);  // [dim, K, pt, ph, pw]
    KINEMA_CHECK(le.size(0) == c.dim && le.size(2) == c.patch_size[0] && le.size(3) == c.patch_size[1] &&
                     le.size(4) == c.patch_size[2],
                 "dit", "tensor \"layout_embedding.weight\" has shape ", shape_str(le.shape()), "; expected [",
                 c.dim, ", K, ", c.patch_size[0], ", ", c.patch_size[1], ", ", c.patch_size[2], "]");
    c.layout_channels = le.size(1);
  }
  const Tensor& hw = need(t, "head.head.weight", 2);  // [out * pt*ph*pw, dim]
  KINEMA_CHECK(hw.size(0) % c.patch_volume() == 0, "dit", "tensor \"head.head.weight\" has ",
               hw.size(0), " outputs; expected a multiple of the patch volume ", c.patch_volume());
  c.out_dim = hw.size(0) / c.patch_volume();
  c.num_heads = infer_heads(c.dim, metadata);
  c.validate();
  return c;
}

}  // namespace kinema
