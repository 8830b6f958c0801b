// VAE configuration: the parameter table (Wan VAE checkpoint keys and shapes) and config
// inference from a checkpoint's names and shapes. The table is the one source of truth:
// init_random creates it, from_tensors checks a file against it, parameters() walks it, and
// models/vae/blocks.cpp walks the same module order (vae_internal.hpp's stage helpers).
#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "kinema/error.hpp"
#include "models/vae/vae_internal.hpp"

namespace kinema {
namespace {

using Table = std::vector<std::pair<std::string, Shape>>;

void add_conv3d(Table& out, const std::string& p, int64_t o, int64_t i, int64_t kt, int64_t k) {
  out.emplace_back(p + ".weight", Shape{o, i, kt, k, k});
  out.emplace_back(p + ".bias", Shape{o});
}

// Wan's ResidualBlock: residual = [RMS_norm, SiLU, conv 3, RMS_norm, SiLU, Dropout, conv 3]
void add_residual(Table& out, const std::string& p, int64_t in, int64_t o) {
  out.emplace_back(p + ".residual.0.gamma", Shape{in, 1, 1, 1});
  add_conv3d(out, p + ".residual.2", o, in, 3, 3);
  out.emplace_back(p + ".residual.3.gamma", Shape{o, 1, 1, 1});
  add_conv3d(out, p + ".residual.6", o, o, 3, 3);
  if (in != o) add_conv3d(out, p + ".shortcut", o, in, 1, 1);
}

// Wan's AttentionBlock: RMS_norm (image-shaped gamma), to_qkv and proj as 1x1 Conv2d.
void add_attention(Table& out, const std::string& p, int64_t c) {
  out.emplace_back(p + ".norm.gamma", Shape{c, 1, 1});
  out.emplace_back(p + ".to_qkv.weight", Shape{3 * c, c, 1, 1});
  out.emplace_back(p + ".to_qkv.bias", Shape{3 * c});
  out.emplace_back(p + ".proj.weight", Shape{c, c, 1, 1});
  out.emplace_back(p + ".proj.bias", Shape{c});
}

void add_middle(Table& out, const std::string& p, int64_t c) {
  add_residual(out, p + ".0", c, c);
  add_attention(out, p + ".1", c);
  add_residual(out, p + ".2", c, c);
}

const Tensor& need(const std::map<std::string, Tensor>& t, const std::string& key, int ndim) {
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

}  // namespace

int64_t VaeConfig::spatial_compression() const { return int64_t(1) << (dim_mult.size() - 1); }

int64_t VaeConfig::temporal_compression() const {
  return int64_t(1) << std::count(temporal_downsample.begin(), temporal_downsample.end(), true);
}

void VaeConfig::validate() const {
  check(dim > 0 && z_dim > 0 && num_res_blocks >= 1 && !dim_mult.empty(), "vae",
        "config sizes must be positive; got dim ", dim, ", z_dim ", z_dim, ", num_res_blocks ",
        num_res_blocks, ", ", dim_mult.size(), " stages");
  for (int64_t m : dim_mult) check(m > 0, "vae", "dim_mult entries must be positive; got ", m);
  check(temporal_downsample.size() + 1 == dim_mult.size(), "vae", "temporal_downsample has ",
        temporal_downsample.size(), " entries; expected one per downsampling stage (",
        dim_mult.size() - 1, ")");
  // The decoder's spatial upsamplers halve the width (Wan's Resample: Conv2d(dim, dim // 2)).
  for (size_t i = 0; i + 1 < dim_mult.size(); ++i)
    check((dim * dim_mult[dim_mult.size() - 1 - i]) % 2 == 0, "vae", "decoder stage ", i,
          " width must be even (its upsampler halves it)");
  check(latents_mean.size() == latents_std.size() &&
            (latents_mean.empty() || int64_t(latents_mean.size()) == z_dim),
        "vae", "latents_mean/latents_std need z_dim = ", z_dim, " values each; got ",
        latents_mean.size(), " and ", latents_std.size());
  for (float s : latents_std) check(s > 0, "vae", "latents_std entries must be > 0; got ", s);
}

VaeConfig wan21_vae_config() {
  VaeConfig c;  // the defaults are Wan2.1's architecture; these are its published statistics
  c.latents_mean = {-0.7571f, -0.7089f, -0.9113f, 0.1075f, -0.1745f, 0.9653f, -0.1517f, 1.5508f,
                    0.4134f,  -0.0715f, 0.5517f,  -0.3632f, -0.1922f, -0.9497f, 0.2503f, -0.2921f};
  c.latents_std = {2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f, 2.6052f, 2.0743f,
                   3.2687f, 2.1526f, 2.8652f, 1.5579f, 1.6382f, 1.1253f, 2.8251f, 1.9160f};
  return c;
}

std::vector<std::pair<std::string, Shape>> vae_parameter_shapes(const VaeConfig& c) {
  c.validate();
  Table out;
  std::vector<vae::StageModule> enc = vae::encoder_modules(c), dec = vae::decoder_modules(c);
  add_conv3d(out, "encoder.conv1", enc.front().in, 3, 3, 3);
  int64_t width = enc.front().in;
  for (size_t i = 0; i < enc.size(); ++i) {
    const vae::StageModule& m = enc[i];
    std::string p = "encoder.downsamples." + std::to_string(i);
    if (m.kind == vae::ModuleKind::residual) {
      add_residual(out, p, m.in, m.out);
    } else {  // downsample: resample = [ZeroPad2d, Conv2d stride 2]
      out.emplace_back(p + ".resample.1.weight", Shape{m.out, m.in, 3, 3});
      out.emplace_back(p + ".resample.1.bias", Shape{m.out});
      if (m.temporal) add_conv3d(out, p + ".time_conv", m.out, m.out, 3, 1);
    }
    width = m.out;
  }
  add_middle(out, "encoder.middle", width);
  out.emplace_back("encoder.head.0.gamma", Shape{width, 1, 1, 1});
  add_conv3d(out, "encoder.head.2", 2 * c.z_dim, width, 3, 3);
  add_conv3d(out, "conv1", 2 * c.z_dim, 2 * c.z_dim, 1, 1);
  add_conv3d(out, "conv2", c.z_dim, c.z_dim, 1, 1);
  width = dec.front().in;
  add_conv3d(out, "decoder.conv1", width, c.z_dim, 3, 3);
  add_middle(out, "decoder.middle", width);
  for (size_t i = 0; i < dec.size(); ++i) {
    const vae::StageModule& m = dec[i];
    std::string p = "decoder.upsamples." + std::to_string(i);
    if (m.kind == vae::ModuleKind::residual) {
      add_residual(out, p, m.in, m.out);
    } else {  // upsample: resample = [Upsample ×2, Conv2d(dim, dim / 2)]
      if (m.temporal) add_conv3d(out, p + ".time_conv", 2 * m.in, m.in, 3, 1);
      out.emplace_back(p + ".resample.1.weight", Shape{m.out, m.in, 3, 3});
      out.emplace_back(p + ".resample.1.bias", Shape{m.out});
    }
    width = m.out;
  }
  out.emplace_back("decoder.head.0.gamma", Shape{width, 1, 1, 1});
  add_conv3d(out, "decoder.head.2", 3, width, 3, 3);
  return out;
}

bool is_vae_checkpoint(const std::map<std::string, Tensor>& t) {
  return t.count("encoder.conv1.weight") && t.count("decoder.conv1.weight") && t.count("conv2.weight") &&
         t.count("decoder.head.2.weight");
}

VaeConfig infer_vae_config(const std::map<std::string, Tensor>& t,
                           const std::map<std::string, std::string>& metadata) {
  VaeConfig c;
  c.dim = need(t, "encoder.conv1.weight", 5).size(0);  // [dim, 3, 3, 3, 3]
  c.z_dim = need(t, "conv2.weight", 5).size(0);        // [z, z, 1, 1, 1]
  // encoder.downsamples: num_res_blocks residual blocks per stage, a resampler between stages.
  int64_t entries = 0;
  for (const auto& [key, _] : t) {
    const std::string pre = "encoder.downsamples.";
    if (key.rfind(pre, 0) != 0) continue;
    char* end = nullptr;
    long n = std::strtol(key.c_str() + pre.size(), &end, 10);
    KINEMA_CHECK(end != key.c_str() + pre.size() && *end == '.' && n >= 0, "vae", "bad key \"", key,
                 "\"; expected encoder.downsamples.<index>.<name>");
    entries = std::max<int64_t>(entries, n + 1);
  }
  std::vector<int64_t> resamplers;
  for (int64_t i = 0; i < entries; ++i)
    if (t.count("encoder.downsamples." + std::to_string(i) + ".resample.1.weight")) resamplers.push_back(i);
  c.num_res_blocks = resamplers.empty() ? entries : resamplers.front();
  KINEMA_CHECK(c.num_res_blocks >= 1, "vae", "missing tensor \"encoder.downsamples.0.residual.2.weight\"; "
               "expected residual blocks before the first resampler");
  int64_t stages = int64_t(resamplers.size()) + 1;
  KINEMA_CHECK(entries == stages * c.num_res_blocks + stages - 1, "vae", "encoder.downsamples has ",
               entries, " entries with resamplers at ", resamplers.size(),
               " places; expected stages of equal residual-block counts");
  c.dim_mult.clear();
  c.temporal_downsample.clear();
  int64_t width = 0;
  for (int64_t s = 0; s < stages; ++s) {
    int64_t first = s * (c.num_res_blocks + 1);
    std::string key = "encoder.downsamples." + std::to_string(first) + ".residual.2.weight";
    width = need(t, key, 5).size(0);  // [out, in, 3, 3, 3]
    KINEMA_CHECK(width % c.dim == 0, "vae", "tensor \"", key, "\" has ", width,
                 " outputs; expected a multiple of dim ", c.dim);
    c.dim_mult.push_back(width / c.dim);
    if (s + 1 < stages)
      c.temporal_downsample.push_back(
          t.count("encoder.downsamples." + std::to_string(first + c.num_res_blocks) + ".time_conv.weight") > 0);
  }
  auto mean = metadata.find("latents_mean"), std_ = metadata.find("latents_std");
  if (mean != metadata.end()) c.latents_mean = parse_floats("latents_mean", mean->second);
  if (std_ != metadata.end()) c.latents_std = parse_floats("latents_std", std_->second);
  c.validate();
  return c;
}

}  // namespace kinema
