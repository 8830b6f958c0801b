// Shared helpers for the VAE tests: tiny configs and the max-relative-error measure.
#pragma once
#include "kinema/vae.hpp"

namespace kinema::test {

// dim 8, z_dim 4, mults 1,2,4,4 (×8 in space), 1 residual block, time halved in the last two
// downsampling stages (×4 in time), as Wan's layout at a toy width.
VaeConfig tiny_vae_config();
// max |a - b| / max |b| (b is the reference)
double max_rel_error(const Tensor& a, const Tensor& b);

}  // namespace kinema::test
