// Denoiser: a model callback turned into one guided velocity per (x, σ).
//   classifier-free guidance (Ho & Salimans 2022): v = v_u + cfg·(v_c − v_u)
//   guidance rescale (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
//   Flawed", eq. 15-16, applied to the velocity instead of ε):
//     v_r = v·std(v_c)/std(v),  v = φ·v_r + (1 − φ)·v
// std is torch.std's unbiased estimate over every dim but the first, per batch item, as
// diffusers' rescale_noise_cfg computes it; a 0-d or 1-d tensor counts as one item.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/sampler.hpp"

namespace kinema {
namespace {

Tensor checked_velocity(const Tensor& v, const Tensor& x, const char* branch) {
  check(v.defined(), "Denoiser", "the model returned no tensor for the ", branch, " branch");
  check(v.shape() == x.shape(), "Denoiser", "the model's ", branch,
        " velocity must have the latent's shape; got ", shape_str(v.shape()), ", expected ",
        shape_str(x.shape()));
  return v.dtype() == DType::f32 ? v : cast(v, DType::f32);
}

// Unbiased standard deviation of each of `items` equal contiguous slices of data.
std::vector<double> item_std(const float* data, int64_t items, int64_t per_item) {
  std::vector<double> out(size_t(items), 0.0);
  for (int64_t b = 0; b < items; ++b) {
    const float* p = data + b * per_item;
    double mean = 0;
    for (int64_t i = 0; i < per_item; ++i) mean += p[i];
    mean /= double(per_item);
    double ss = 0;
    for (int64_t i = 0; i < per_item; ++i) ss += (p[i] - mean) * (p[i] - mean);
    out[size_t(b)] = per_item > 1 ? std::sqrt(ss / double(per_item - 1)) : 0.0;
  }
  return out;
}

Tensor rescale_guidance(const Tensor& guided, const Tensor& cond, float phi) {
  Tensor g = contiguous(guided), c = contiguous(cond);
  const int64_t items = g.ndim() >= 2 ? g.size(0) : 1;
  const int64_t per_item = items > 0 ? g.numel() / items : 0;
  if (per_item == 0) return g;
  std::vector<double> std_g = item_std(g.data<float>(), items, per_item);
  std::vector<double> std_c = item_std(c.data<float>(), items, per_item);
  Tensor out = Tensor::empty(g.shape());
  const float* src = g.data<float>();
  float* dst = out.data<float>();
  for (int64_t b = 0; b < items; ++b) {
    // v·(φ·ratio + 1 − φ); a constant v (std 0) has nothing to rescale.
    double ratio = std_g[size_t(b)] > 0 ? std_c[size_t(b)] / std_g[size_t(b)] : 1.0;
    float factor = float(double(phi) * ratio + (1.0 - double(phi)));
    for (int64_t i = 0; i < per_item; ++i) dst[b * per_item + i] = src[b * per_item + i] * factor;
  }
  return out;
}

// Each latent frame's guidance scale 1 + (cfg - 1)·s_t (s_t = 1 without shares); one entry for a
// latent that is not [B, C, T, H, W].
std::vector<float> frame_scales(const Shape& s, float cfg, const std::vector<float>& share) {
  if (share.empty()) return std::vector<float>(s.size() == 5 ? size_t(s[2]) : 1, cfg);
  check(s.size() == 5 && int64_t(share.size()) == s[2], "Denoiser", "per-frame guidance needs a [B, C, T, H, W] ",
        "latent with one share per latent frame; got ", shape_str(s), " and ", share.size(), " shares");
  std::vector<float> w(share.size());
  for (size_t t = 0; t < w.size(); ++t) w[t] = 1.f + (cfg - 1.f) * share[t];
  return w;
}

// uncond + w_t·(cond - uncond) at each latent frame t of a [B, C, T, H, W] latent.
Tensor guide_per_frame(const Tensor& cond, const Tensor& uncond, const std::vector<float>& w) {
  const Shape& s = cond.shape();
  std::vector<float> c = cond.to_vector();
  const std::vector<float> u = uncond.to_vector();
  const int64_t T = s[2], plane = s[3] * s[4];
  for (size_t i = 0; i < c.size(); ++i) {
    const float wt = w[size_t((int64_t(i) / plane) % T)];
    c[i] = u[i] + wt * (c[i] - u[i]);
  }
  return Tensor::from_vector(c, s);
}

}  // namespace

std::vector<float> guidance_ramp_shares(const std::vector<bool>& given, int ramp) {
  std::vector<float> out(given.size(), 1.f);
  if (ramp <= 1 || std::find(given.begin(), given.end(), true) == given.end()) return out;
  for (size_t t = 0; t < given.size(); ++t) {
    int64_t d = int64_t(given.size());
    for (size_t k = 0; k < given.size(); ++k)
      if (given[k]) d = std::min<int64_t>(d, std::abs(int64_t(t) - int64_t(k)));
    out[t] = std::min(1.f, float(d) / float(ramp));
  }
  return out;
}

Denoiser::Denoiser(ModelFn model, GuidanceOptions options)
    : model_(std::move(model)), options_(options) {
  check(bool(model_), "Denoiser", "no model callback given");
  check(std::isfinite(options_.cfg) && std::isfinite(options_.cfg_high), "Denoiser", "cfg must be finite; got ",
        options_.cfg, " and ", options_.cfg_high);
  check(options_.rescale >= 0 && options_.rescale <= 1, "Denoiser",
        "guidance rescale must lie in [0, 1]; got ", options_.rescale);
  check(std::isfinite(options_.projected.parallel) && std::isfinite(options_.projected.norm_cap) &&
            options_.projected.norm_cap >= 0, "Denoiser", "projected guidance needs a finite parallel share and a cap >= 0; got ",
        options_.projected.parallel, " and ", options_.projected.norm_cap);
  for (float s : options_.frame_share)
    check(std::isfinite(s) && s >= 0, "Denoiser", "a frame's share of the guidance must be finite and >= 0; got ", s);
}

Tensor Denoiser::velocity(const Tensor& x, float sigma, float timestep) {
  ModelCall call{sigma, timestep, true};
  ++calls_;
  Tensor cond = checked_velocity(model_(x, call), x, "conditional");
  const float cfg = options_.cfg_at(timestep);
  if (cfg == 1.0f) return cond;  // guidance is the identity: skip the uncond call
  call.conditional = false;
  ++calls_;
  Tensor uncond = checked_velocity(model_(x, call), x, "unconditional");
  Tensor guided;
  if (options_.projected.active())
    guided = projected_guidance(x, sigma, cond, uncond, frame_scales(x.shape(), cfg, options_.frame_share),
                                options_.projected);
  else if (options_.frame_share.empty())
    guided = add(uncond, scale(sub(cond, uncond), cfg));
  else
    guided = guide_per_frame(cond, uncond, frame_scales(x.shape(), cfg, options_.frame_share));
  if (options_.rescale > 0) guided = rescale_guidance(guided, cond, options_.rescale);
  return guided;
}

Tensor velocity_to_x0(const Tensor& x, float sigma, const Tensor& velocity) {
  return sub(x, scale(velocity, sigma));
}

}  // namespace kinema
