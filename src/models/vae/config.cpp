// VAE configuration: validation, Wan's published configs and the parameter table (Wan VAE
// checkpoint keys and shapes; infer.cpp reads a config back from them). The table is the one source of truth:
// init_random creates it, from_tensors checks a file against it, parameters() walks it, and
// models/vae/blocks.cpp walks the same module order (vae_internal.hpp's stage helpers).
#include <algorithm>

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

// AvgDown3D and DupUp3D regroup channels: in·factor must split evenly into out groups (or
// out·factor into in repeats).
void validate_shortcuts(const VaeConfig& c) {
  for (const vae::StageShortcut& s : vae::encoder_shortcuts(c))
    check((s.in * s.factor_t * s.factor_s * s.factor_s) % s.out == 0, "vae", "an encoder stage of width ", s.in,
          " -> ", s.out, " cannot average its input down (", s.in, " x ", s.factor_t * s.factor_s * s.factor_s,
          " is not a multiple of ", s.out, ")");
  for (const vae::StageShortcut& s : vae::decoder_shortcuts(c))
    check(!s.present || (s.out * s.factor_t * s.factor_s * s.factor_s) % s.in == 0, "vae", "a decoder stage of width ",
          s.in, " -> ", s.out, " cannot repeat its input up (", s.out, " x ", s.factor_t * s.factor_s * s.factor_s,
          " is not a multiple of ", s.in, ")");
}

}  // namespace

int64_t VaeConfig::spatial_compression() const { return patch_size << (dim_mult.size() - 1); }

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
  check(patch_size >= 1 && decoder_dim >= 0, "vae", "patch_size must be >= 1 and decoder_dim >= 0; got ",
        patch_size, " and ", decoder_dim);
  // Wan2.1's spatial upsamplers halve the width (Resample: Conv2d(dim, dim // 2)).
  if (layout == VaeLayout::wan21)
    for (size_t i = 0; i + 1 < dim_mult.size(); ++i)
      check((decoder_width() * dim_mult[dim_mult.size() - 1 - i]) % 2 == 0, "vae", "decoder stage ", i,
            " width must be even (its upsampler halves it)");
  if (layout == VaeLayout::wan22) validate_shortcuts(*this);
  check(latents_mean.size() == latents_std.size() &&
            (latents_mean.empty() || int64_t(latents_mean.size()) == z_dim),
        "vae", "latents_mean/latents_std need z_dim = ", z_dim, " values each; got ",
        latents_mean.size(), " and ", latents_std.size());
  for (float s : latents_std) check(s > 0, "vae", "latents_std entries must be > 0; got ", s);
}

VaeConfig wan22_vae_config() {
  VaeConfig c;  // vae2_2.py's Wan2_2_VAE: _video_vae(dim=160, z_dim=48), WanVAE_'s dec_dim 256
  c.layout = VaeLayout::wan22, c.patch_size = 2, c.dim = 160, c.decoder_dim = 256, c.z_dim = 48;
  c.latents_mean = {-0.2289f, -0.0052f, -0.1323f, -0.2339f, -0.2799f, 0.0174f,  0.1838f,  0.1557f,
                    -0.1382f, 0.0542f,  0.2813f,  0.0891f,  0.1570f,  -0.0098f, 0.0375f,  -0.1825f,
                    -0.2246f, -0.1207f, -0.0698f, 0.5109f,  0.2665f,  -0.2108f, -0.2158f, 0.2502f,
                    -0.2055f, -0.0322f, 0.1109f,  0.1567f,  -0.0729f, 0.0899f,  -0.2799f, -0.1230f,
                    -0.0313f, -0.1649f, 0.0117f,  0.0723f,  -0.2839f, -0.2083f, -0.0520f, 0.3748f,
                    0.0152f,  0.1957f,  0.1433f,  -0.2944f, 0.3573f,  -0.0548f, -0.1681f, -0.0667f};
  c.latents_std = {0.4765f, 1.0364f, 0.4514f, 1.1677f, 0.5313f, 0.4990f, 0.4818f, 0.5013f,
                   0.8158f, 1.0344f, 0.5894f, 1.0901f, 0.6885f, 0.6165f, 0.8454f, 0.4978f,
                   0.5759f, 0.3523f, 0.7135f, 0.6804f, 0.5833f, 1.4146f, 0.8986f, 0.5659f,
                   0.7069f, 0.5338f, 0.4889f, 0.4917f, 0.4069f, 0.4999f, 0.6866f, 0.4093f,
                   0.5709f, 0.6065f, 0.6415f, 0.4944f, 0.5726f, 1.2042f, 0.5458f, 1.6887f,
                   0.3971f, 1.0600f, 0.3943f, 0.5537f, 0.5444f, 0.4089f, 0.7468f, 0.7744f};
  return c;
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
  const int64_t pixels = 3 * c.patch_size * c.patch_size;  // channels after the pixel patchify
  add_conv3d(out, "encoder.conv1", enc.front().in, pixels, 3, 3);
  int64_t width = enc.front().in;
  for (const vae::StageModule& m : enc) {
    const std::string& p = m.key;
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
  for (const vae::StageModule& m : dec) {
    const std::string& p = m.key;
    if (m.kind == vae::ModuleKind::residual) {
      add_residual(out, p, m.in, m.out);
    } else {  // upsample: resample = [Upsample ×2, Conv2d(dim, dim / 2 (Wan2.1) or dim (Wan2.2))]
      if (m.temporal) add_conv3d(out, p + ".time_conv", 2 * m.in, m.in, 3, 1);
      out.emplace_back(p + ".resample.1.weight", Shape{m.out, m.in, 3, 3});
      out.emplace_back(p + ".resample.1.bias", Shape{m.out});
    }
    width = m.out;
  }
  out.emplace_back("decoder.head.0.gamma", Shape{width, 1, 1, 1});
  add_conv3d(out, "decoder.head.2", pixels, width, 3, 3);
  return out;
}

bool is_vae_checkpoint(const std::map<std::string, Tensor>& t) {
  return t.count("encoder.conv1.weight") && t.count("decoder.conv1.weight") && t.count("conv2.weight") &&
         t.count("decoder.head.2.weight");
}

}  // namespace kinema
