// Adaptive projected guidance (Sadat, Hilliges & Weber 2024, "Eliminating oversaturation and
// artifacts of high guidance scales in diffusion models", arXiv 2410.02416, Alg. 1 without
// momentum), on a flow-matching model's velocities. In data space D = x − σ·v:
//   Δ = D_c − D_u, capped to RMS ≤ norm_cap per slice;
//   Δ = Δ_⊥ + η·Δ_∥, split along D_c per slice;
//   D = D_c + (w − 1)·Δ,  v = (x − D)/σ = v_c − (w − 1)·Δ/σ.
// A slice is one latent frame of one batch item ([C, H, W] of a [B, C, T, H, W] latent), else
// one batch item: the paper's per-image norms, per frame so a video's frames guide alike.
// η = 1 and no cap is classifier-free guidance exactly.
#include <cmath>

#include "kinema/error.hpp"
#include "kinema/sampler.hpp"

namespace kinema {

Tensor projected_guidance(const Tensor& x, float sigma, const Tensor& cond, const Tensor& uncond,
                          const std::vector<float>& weight_per_frame, const ProjectedGuidance& p) {
  const Shape& s = cond.shape();
  check(sigma > 0, "Denoiser", "projected guidance needs a noise level above 0; got ", sigma);
  const bool video = s.size() == 5;
  const int64_t B = s.empty() ? 1 : s[0], T = video ? s[2] : 1;
  const int64_t C = video ? s[1] : 1, plane = video ? s[3] * s[4] : (B > 0 ? shape_numel(s) / B : 0);
  check(int64_t(weight_per_frame.size()) == T, "Denoiser", "projected guidance needs one weight per latent frame; got ",
        weight_per_frame.size(), " for ", T);
  const std::vector<float> xv = x.to_vector(), c = cond.to_vector(), u = uncond.to_vector();
  std::vector<float> out = c;
  // Element i of slice (b, t): b·C·T·plane + ch·T·plane + t·plane + k over ch < C, k < plane.
  auto index = [&](int64_t b, int64_t t, int64_t ch, int64_t k) { return size_t(((b * C + ch) * T + t) * plane + k); };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      double dd = 0, dc = 0, cc = 0;  // Δ·Δ, Δ·D_c, D_c·D_c
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t k = 0; k < plane; ++k) {
          const size_t i = index(b, t, ch, k);
          const double d = double(sigma) * (double(u[i]) - c[i]), dcond = double(xv[i]) - double(sigma) * c[i];
          dd += d * d, dc += d * dcond, cc += dcond * dcond;
        }
      const double n = double(C * plane);
      const double cap = p.norm_cap > 0 && dd > 0 ? std::min(1.0, p.norm_cap / std::sqrt(dd / n)) : 1.0;
      const double along = cc > 0 ? (1.0 - p.parallel) * dc / cc : 0.0;  // removed share of D_c
      const double w = weight_per_frame[size_t(t)] - 1.0;
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t k = 0; k < plane; ++k) {
          const size_t i = index(b, t, ch, k);
          const double d = double(sigma) * (double(u[i]) - c[i]), dcond = double(xv[i]) - double(sigma) * c[i];
          const double delta = cap * (d - along * dcond);
          out[i] = float(double(c[i]) - w * delta / double(sigma));
        }
    }
  return Tensor::from_vector(out, s);
}

}  // namespace kinema
