#include "vae_test_util.hpp"

#include <algorithm>
#include <cmath>

namespace kinema::test {

VaeConfig tiny_vae_config() {
  VaeConfig c;
  c.dim = 8, c.z_dim = 4, c.dim_mult = {1, 2, 4, 4}, c.num_res_blocks = 1;
  c.temporal_downsample = {false, true, true};
  return c;
}

double max_rel_error(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    diff = std::max(diff, double(std::fabs(x[i] - y[i])));
    scale = std::max(scale, double(std::fabs(y[i])));
  }
  return diff / std::max(scale, 1e-30);
}

}  // namespace kinema::test
