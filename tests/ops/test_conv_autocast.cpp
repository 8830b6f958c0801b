// conv3d_autocast in bf16 at the default VAE's widths (32 channels, causal and strided), where
// the op harness's small cases and bf16 tolerance do not reach: the fast path (oneDNN, bf16
// inputs, f32 results) against the reference kernels on the same bf16-rounded inputs. Both
// compute exact products summed in f32, so they agree to f32 summation order, output and
// gradients; against plain f32 they differ by bf16's rounding of the inputs. On a CPU without
// bf16 dot products the passes run in f32 on the rounded inputs, and the same checks hold.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/dnnl_plans.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/ops.hpp"

namespace kinema {
namespace {

Tensor uniform(const Shape& shape, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = u(gen);
  return Tensor::from_vector(v, shape);
}

double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) err += std::pow(got[i] - want[i], 2), norm += std::pow(want[i], 2);
  return std::sqrt(err / norm);
}

struct Result {
  std::vector<float> y, dx, dw, db;
};

Result run(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& o, DType compute) {
  Tensor xg = x.detach().set_requires_grad(), wg = w.detach().set_requires_grad(), bg = b.detach().set_requires_grad();
  Tensor y = conv3d_autocast(xg, wg, bg, o, compute);
  backward(sum(mul(y, y), {{}, false}));
  return {y.to_vector(), xg.grad().to_vector(), wg.grad().to_vector(), bg.grad().to_vector()};
}

TEST(Conv3dAutocast, Bf16AgreesWithTheReferenceOnRoundedInputsAtVaeWidths) {
  struct Case {
    Shape x, w;
    ConvOptions o;
  };
  const Case cases[] = {{{2, 32, 5, 16, 16}, {32, 32, 3, 3, 3}, {{1, 1, 1}, {0, 1, 1}, true}},
                        {{1, 32, 4, 16, 16}, {64, 32, 1, 3, 3}, {{1, 2, 2}, {0, 1, 1}, false}},
                        {{1, 16, 3, 8, 8}, {3, 16, 3, 3, 3}, {{1, 1, 1}, {0, 1, 1}, true}}};
  unsigned seed = 1;
  const uint64_t fallbacks = current_context().stats().slow_fallbacks;
  for (const Case& c : cases) {
    Tensor x = uniform(c.x, seed++), w = uniform(c.w, seed++), b = uniform({c.w[0]}, seed++);
    Result fast = run(x, w, b, c.o, DType::bf16), f32 = run(x, w, b, c.o, DType::f32), ref;
    {
      ReferenceKernelsScope reference;
      ref = run(x, w, b, c.o, DType::bf16);
    }
    const std::vector<float>* parts[3][4] = {{&fast.y, &fast.dx, &fast.dw, &fast.db},
                                             {&ref.y, &ref.dx, &ref.dw, &ref.db},
                                             {&f32.y, &f32.dx, &f32.dw, &f32.db}};
    const char* names[4] = {"y", "dx", "dw", "db"};
    for (int k = 0; k < 4; ++k) {
      const double vs_ref = relative_error(*parts[0][k], *parts[1][k]);
      const double vs_f32 = relative_error(*parts[0][k], *parts[2][k]);
      // Only the f32 sums' order differs from the reference: 1e-5-scale; oneDNN's AVX2 path
      // (bf16 converted, no native dot products) read 2.04e-5 on dx on a Zen 3.
      EXPECT_LT(vs_ref, 4e-5) << names[k] << " case x " << shape_str(c.x);
      EXPECT_GT(vs_f32, 1e-4) << names[k] << ": the products were not rounded to bf16";
      EXPECT_LT(vs_f32, 2e-2) << names[k];
    }
  }
  // With bf16 dot products every pass ran on oneDNN's bf16 kernels (a refused descriptor would
  // fall back to f32 on the rounded inputs, which the checks above cannot tell apart).
  if (cpu_has_bf16_dot()) EXPECT_EQ(current_context().stats().slow_fallbacks, fallbacks);
}

}  // namespace
}  // namespace kinema
