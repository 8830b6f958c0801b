// VAE config inference from a checkpoint's names and shapes. Wan2.1's VAE numbers the encoder's
// modules in one list (encoder.downsamples.N); Wan2.2's nests them per stage
// (encoder.downsamples.S.downsamples.M) and reads 2x2-patchified pixels (12 channels), which is
// how the two are told apart; anything else is refused with what was expected.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "kinema/error.hpp"
#include "models/vae/vae_internal.hpp"

namespace kinema {
namespace {

using Tensors = std::map<std::string, Tensor>;

const Tensor& need(const Tensors& t, const std::string& key, int ndim) {
  auto it = t.find(key);
  KINEMA_CHECK(it != t.end(), "vae", "missing tensor \"", key, "\"; not a Wan-style video VAE checkpoint");
  KINEMA_CHECK(it->second.ndim() == ndim, "vae", "tensor \"", key, "\" has shape ",
               shape_str(it->second.shape()), "; expected ", ndim, " dims");
  return it->second;
}

std::vector<float> parse_floats(const std::string& key, const std::string& text) {
  std::vector<float> v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    float f = std::strtof(item.c_str(), &end);
    KINEMA_CHECK(end != item.c_str() && *end == 0, "vae", "metadata \"", key, "\" has \"", item,
                 "\"; expected comma-separated numbers");
    v.push_back(f);
  }
  return v;
}

// The indices N of keys "<prefix>N.<rest>"; a key under prefix without one is an Error.
std::set<int64_t> indices_under(const Tensors& t, const std::string& prefix) {
  std::set<int64_t> out;
  for (const auto& [key, _] : t) {
    if (key.rfind(prefix, 0) != 0) continue;
    char* end = nullptr;
    long n = std::strtol(key.c_str() + prefix.size(), &end, 10);
    KINEMA_CHECK(end != key.c_str() + prefix.size() && *end == '.' && n >= 0, "vae", "bad key \"", key,
                 "\"; expected ", prefix, "<index>.<name>");
    out.insert(n);
  }
  return out;
}

// The stage width from a residual block's second conv [out, out, 3, 3, 3], as a multiple of dim.
int64_t stage_mult(const Tensors& t, const std::string& key, int64_t dim) {
  const int64_t width = need(t, key, 5).size(0);
  KINEMA_CHECK(width % dim == 0, "vae", "tensor \"", key, "\" has ", width, " outputs; expected a multiple of dim ",
               dim);
  return width / dim;
}

// Wan2.1: encoder.downsamples.N, num_res_blocks residual blocks per stage, a resampler between.
void infer_flat_stages(const Tensors& t, VaeConfig& c) {
  const std::set<int64_t> found = indices_under(t, "encoder.downsamples.");
  const int64_t entries = found.empty() ? 0 : *found.rbegin() + 1;
  std::vector<int64_t> resamplers;
  for (int64_t i = 0; i < entries; ++i)
    if (t.count("encoder.downsamples." + std::to_string(i) + ".resample.1.weight")) resamplers.push_back(i);
  c.num_res_blocks = resamplers.empty() ? entries : resamplers.front();
  KINEMA_CHECK(c.num_res_blocks >= 1, "vae", "missing tensor \"encoder.downsamples.0.residual.2.weight\"; "
               "expected residual blocks before the first resampler");
  const int64_t stages = int64_t(resamplers.size()) + 1;
  KINEMA_CHECK(entries == stages * c.num_res_blocks + stages - 1, "vae", "encoder.downsamples has ", entries,
               " entries with resamplers at ", resamplers.size(), " places; expected stages of equal residual-block counts");
  for (int64_t s = 0; s < stages; ++s) {
    const int64_t first = s * (c.num_res_blocks + 1);
    c.dim_mult.push_back(stage_mult(t, "encoder.downsamples." + std::to_string(first) + ".residual.2.weight", c.dim));
    if (s + 1 < stages)
      c.temporal_downsample.push_back(
          t.count("encoder.downsamples." + std::to_string(first + c.num_res_blocks) + ".time_conv.weight") > 0);
  }
}

// decoder.conv1 [decoder_dim · mult[-1], z, 3, 3, 3]: the decoder's own base width, which Wan2.2
// sets apart from the encoder's and a decoder trained on a frozen encoder may widen.
int64_t decoder_base_width(const Tensors& t, const VaeConfig& c) {
  const std::string key = "decoder.conv1.weight";
  const int64_t first = need(t, key, 5).size(0);
  KINEMA_CHECK(first % c.dim_mult.back() == 0, "vae", "tensor \"", key, "\" has ", first,
               " outputs; expected a multiple of the last stage's multiplier ", c.dim_mult.back());
  return first / c.dim_mult.back();
}

// Wan2.2: encoder.downsamples.S.downsamples.M, the resampler last in every stage but the last.
void infer_nested_stages(const Tensors& t, VaeConfig& c) {
  const std::set<int64_t> stages = indices_under(t, "encoder.downsamples.");
  KINEMA_CHECK(!stages.empty() && *stages.rbegin() + 1 == int64_t(stages.size()), "vae",
               "encoder.downsamples has stages numbered with gaps; expected 0 .. S-1");
  const std::string s0 = "encoder.downsamples.0.downsamples.";
  while (t.count(s0 + std::to_string(c.num_res_blocks) + ".residual.2.weight")) ++c.num_res_blocks;
  KINEMA_CHECK(c.num_res_blocks >= 1, "vae", "missing tensor \"", s0, "0.residual.2.weight\"");
  for (int64_t s = 0; s < int64_t(stages.size()); ++s) {
    const std::string p = "encoder.downsamples." + std::to_string(s) + ".downsamples.";
    c.dim_mult.push_back(stage_mult(t, p + "0.residual.2.weight", c.dim));
    if (s + 1 < int64_t(stages.size()))
      c.temporal_downsample.push_back(t.count(p + std::to_string(c.num_res_blocks) + ".time_conv.weight") > 0);
  }
  c.decoder_dim = decoder_base_width(t, c);
}

// encoder.conv1 [dim, 3p², 3, 3, 3]: RGB (p = 1, Wan2.1) or p x p-patchified RGB (p = 2, Wan2.2).
int64_t infer_patch_size(const Tensor& conv1) {
  const int64_t in = conv1.size(1);
  const int64_t p = std::lround(std::sqrt(double(in) / 3.0));
  KINEMA_CHECK(p >= 1 && 3 * p * p == in, "vae", "tensor \"encoder.conv1.weight\" takes ", in,
               " input channels; expected 3 (Wan2.1: RGB) or 12 (Wan2.2: RGB patchified 2x2), "
               "3·p² in general; this is neither a Wan2.1 nor a Wan2.2 VAE");
  return p;
}

}  // namespace

VaeConfig infer_vae_config(const Tensors& t, const std::map<std::string, std::string>& metadata) {
  VaeConfig c;
  const Tensor& conv1 = need(t, "encoder.conv1.weight", 5);  // [dim, 3p², 3, 3, 3]
  c.dim = conv1.size(0);
  c.patch_size = infer_patch_size(conv1);
  c.z_dim = need(t, "conv2.weight", 5).size(0);  // [z, z, 1, 1, 1]
  c.num_res_blocks = 0;
  c.dim_mult.clear();
  c.temporal_downsample.clear();
  const bool nested = std::any_of(t.begin(), t.end(), [](const auto& kv) {
    return kv.first.rfind("encoder.downsamples.0.downsamples.", 0) == 0;
  });
  c.layout = nested ? VaeLayout::wan22 : VaeLayout::wan21;
  if (nested) {
    infer_nested_stages(t, c);
  } else {
    infer_flat_stages(t, c);
    // Wan2.1's decoder is as wide as its encoder (decoder_dim 0); a wider one is kept apart.
    const int64_t decoder = decoder_base_width(t, c);
    c.decoder_dim = decoder == c.dim ? 0 : decoder;
  }
  auto mean = metadata.find("latents_mean"), std_ = metadata.find("latents_std");
  if (mean != metadata.end()) c.latents_mean = parse_floats("latents_mean", mean->second);
  if (std_ != metadata.end()) c.latents_std = parse_floats("latents_std", std_->second);
  c.validate();
  return c;
}

}  // namespace kinema
