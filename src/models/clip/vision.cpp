// ClipVision (kinema/clip_vision.hpp): Wan's clip.py VisionTransformer with pool 'token',
// pre_norm, activation 'gelu', blocks without post-norm.
#include "kinema/clip_vision.hpp"

#include <cmath>

#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "models/weight_map.hpp"

namespace kinema {
namespace {

constexpr int64_t kVitHHeadDim = 80;  // ViT-H/14: 1280 / 16

const Tensor& need(const std::map<std::string, Tensor>& t, const std::string& key, int ndim) {
  auto it = t.find(key);
  check(it != t.end(), "clip", "missing tensor \"visual.", key, "\"; not a CLIP vision checkpoint");
  check(it->second.ndim() == ndim, "clip", "tensor \"visual.", key, "\" has shape ", shape_str(it->second.shape()),
        "; expected ", ndim, " dims");
  return it->second;
}

}  // namespace

ClipVision ClipVision::from_tensors(const TensorFile& file) {
  ClipVision m;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind("visual.", 0) == 0) m.weights_[name.substr(7)] = t;
    else if (name.find('.') == std::string::npos || name.rfind("transformer.", 0) == 0 ||
             name.rfind("patch_embedding", 0) == 0 || name.rfind("pre_norm", 0) == 0 || name.rfind("post_norm", 0) == 0)
      m.weights_[name] = t;  // a bare vision tower
  }
  ClipVisionConfig& c = m.config_;
  const Tensor& pe = need(m.weights_, "patch_embedding.weight", 4);  // [dim, 3, p, p]
  c.dim = pe.size(0), c.patch_size = pe.size(2);
  const Tensor& pos = need(m.weights_, "pos_embedding", 3);  // [1, tokens, dim]
  const int64_t side = int64_t(std::lround(std::sqrt(double(pos.size(1) - 1))));
  check(side * side + 1 == pos.size(1), "clip", "pos_embedding has ", pos.size(1), " tokens; expected a square grid + 1");
  c.image_size = side * c.patch_size;
  std::map<std::string, Tensor> blocks;
  for (const auto& [k, v] : m.weights_)
    if (k.rfind("transformer.", 0) == 0) blocks["blocks." + k.substr(12)] = v;
  c.num_layers = count_blocks(blocks, "clip");
  c.mlp_dim = c.num_layers > 0 ? need(m.weights_, "transformer.0.mlp.0.weight", 2).size(0) : 4 * c.dim;
  auto heads = file.metadata.find("num_heads");
  check(heads != file.metadata.end() || c.dim % kVitHHeadDim == 0, "clip", "cannot infer the head count: width ",
        c.dim, " is not a multiple of ViT-H's head width ", kVitHHeadDim, " and the file has no num_heads metadata");
  c.num_heads = heads != file.metadata.end() ? std::stoll(heads->second) : c.dim / kVitHHeadDim;
  check(c.num_heads > 0 && c.dim % c.num_heads == 0, "clip", "dim ", c.dim, " does not split into ", c.num_heads, " heads");
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (const char* p : {".norm1.weight", ".attn.to_qkv.weight", ".attn.proj.weight", ".norm2.weight", ".mlp.2.weight"})
      need(m.weights_, "transformer." + std::to_string(i) + p, p[1] == 'n' ? 1 : 2);
  return m;
}

const Tensor& ClipVision::w(const std::string& name) const { return find_weight(weights_, name, "clip"); }

Tensor ClipVision::forward(const Tensor& images, int64_t layers) const {
  const ClipVisionConfig& c = config_;
  check(images.ndim() == 4 && images.size(1) == 3 && images.size(2) == c.image_size && images.size(3) == c.image_size,
        "clip", "images must be [B, 3, ", c.image_size, ", ", c.image_size, "]; got ", shape_str(images.shape()));
  if (layers < 0) layers = c.num_layers - 1;
  check(layers <= c.num_layers, "clip", "asked for ", layers, " blocks of ", c.num_layers);
  const int64_t B = images.size(0), N = c.tokens(), D = c.dim, H = c.num_heads;
  ConvOptions patches;
  patches.stride = {c.patch_size, c.patch_size};
  Tensor x = conv2d(images, w("patch_embedding.weight"), {}, patches);  // [B, D, s, s] (pre-norm: no bias)
  x = permute(reshape(x, {B, D, N - 1}), {0, 2, 1});                     // [B, N-1, D]
  x = concat({expand(w("cls_embedding"), {B, 1, D}), x}, 1);             // [B, N, D]
  x = add(x, w("pos_embedding"));
  x = layer_norm(x, w("pre_norm.weight"), w("pre_norm.bias"), c.eps);
  for (int64_t i = 0; i < layers; ++i) {
    const std::string b = "transformer." + std::to_string(i);
    Tensor h = layer_norm(x, w(b + ".norm1.weight"), w(b + ".norm1.bias"), c.eps);
    Tensor qkv = reshape(linear(h, w(b + ".attn.to_qkv.weight"), w(b + ".attn.to_qkv.bias")), {B, N, 3, H, D / H});
    auto part = [&](int64_t j) { return permute(reshape(slice(qkv, 2, j, j + 1), {B, N, H, D / H}), {0, 2, 1, 3}); };
    Tensor o = permute(attention(part(0), part(1), part(2)), {0, 2, 1, 3});  // [B, N, H, hd]
    x = add(x, linear(reshape(contiguous(o), {B, N, D}), w(b + ".attn.proj.weight"), w(b + ".attn.proj.bias")));
    h = layer_norm(x, w(b + ".norm2.weight"), w(b + ".norm2.bias"), c.eps);
    h = gelu(linear(h, w(b + ".mlp.0.weight"), w(b + ".mlp.0.bias")), GeluApprox::none);
    x = add(x, linear(h, w(b + ".mlp.2.weight"), w(b + ".mlp.2.bias")));
  }
  return x;  // [B, N, D]
}

}  // namespace kinema
