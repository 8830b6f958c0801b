// Spatial Gaussian blur of latent planes: the outline-blind flow-matching inputs (flow.cpp).
#pragma once

#include <cstdint>

namespace kinema {

// Blurs `planes` consecutive H x W float planes in place with a separable Gaussian of standard
// deviation sigma pixels (taps to 3 sigma, normalised; edges clamp, so a constant plane stays
// constant). sigma <= 0 leaves them as they are.
void gaussian_blur_planes(float* data, int64_t planes, int64_t H, int64_t W, float sigma);

}  // namespace kinema
