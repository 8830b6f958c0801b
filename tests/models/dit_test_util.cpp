#include "dit_test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kinema/autograd.hpp"

namespace kinema::test {

DiTConfig tiny_dit_config() {
  DiTConfig c;
  c.dim = 64, c.num_heads = 4, c.num_layers = 2, c.ffn_dim = 128;
  c.in_dim = 4, c.out_dim = 4, c.text_dim = 32, c.freq_dim = 32;
  return c;
}

Tensor seeded(const Shape& shape, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = float(g() >> 40) / float(1 << 23) - 1.f;
  return Tensor::from_vector(v, shape);
}

void expect_gradients_everywhere(const std::vector<Tensor>& params,
                                 const std::vector<std::pair<std::string, Shape>>& shapes) {
  ASSERT_EQ(params.size(), shapes.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& name = shapes[i].first;
    Tensor g = params[i].grad();
    ASSERT_TRUE(g.defined()) << name << " has no gradient";
    EXPECT_EQ(g.shape(), shapes[i].second) << name;
    double norm = 0;
    for (float v : g.to_vector()) {
      ASSERT_TRUE(std::isfinite(v)) << name;
      norm += double(v) * v;
    }
    EXPECT_GT(norm, 0) << name << " has an all-zero gradient";
  }
}

DiT grown_at_zero(const DiT& plain, const DiTConfig& grown) {
  TensorFile f = plain.to_tensors();
  add_missing_at_zero(f.tensors, grown);
  return DiT::from_tensors(f);
}

double central_difference(const std::function<double()>& objective, Tensor& p, int64_t i, float h) {
  NoGradGuard no_grad;
  float* v = p.data<float>();
  const float x = v[i];
  v[i] = x + h;
  const double up = objective();
  v[i] = x - h;
  const double down = objective();
  v[i] = x;
  return (up - down) / (2 * h);
}

}  // namespace kinema::test
