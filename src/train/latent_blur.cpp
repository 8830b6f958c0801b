// Separable Gaussian blur of H x W planes (see latent_blur.hpp).
#include "train/latent_blur.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace kinema {

namespace {

std::vector<float> gaussian_taps(float sigma) {
  const int r = std::max(1, int(std::ceil(3.f * sigma)));
  std::vector<float> k(size_t(2 * r + 1));
  float sum = 0;
  for (int d = -r; d <= r; ++d) sum += k[size_t(d + r)] = std::exp(-0.5f * float(d * d) / (sigma * sigma));
  for (float& w : k) w /= sum;
  return k;
}

// out[i] = sum_d k[d] in[clamp(i + d)] along a line of n values `stride` apart.
void blur_line(const float* in, float* out, int64_t n, int64_t stride, const std::vector<float>& k) {
  const int64_t r = int64_t(k.size() / 2);
  for (int64_t i = 0; i < n; ++i) {
    float acc = 0;
    for (int64_t d = -r; d <= r; ++d) acc += k[size_t(d + r)] * in[std::clamp(i + d, int64_t(0), n - 1) * stride];
    out[i * stride] = acc;
  }
}

}  // namespace

void gaussian_blur_planes(float* data, int64_t planes, int64_t H, int64_t W, float sigma) {
  if (sigma <= 0) return;
  const std::vector<float> k = gaussian_taps(sigma);
  std::vector<float> tmp(size_t(H * W));
  for (int64_t p = 0; p < planes; ++p) {
    float* plane = data + p * H * W;
    for (int64_t y = 0; y < H; ++y) blur_line(plane + y * W, tmp.data() + y * W, W, 1, k);
    for (int64_t x = 0; x < W; ++x) blur_line(tmp.data() + x, plane + x, H, W, k);
  }
}

}  // namespace kinema
