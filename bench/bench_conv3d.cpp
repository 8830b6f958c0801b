// conv3d as a video VAE uses it: 3x3x3, 128 -> 128 channels, 16 x 64 x 64, causal time
// padding. Forward, backward-data and backward-weights through kinema against the same
// oneDNN primitives with no wrapper is not separable here, so the peer is kinema's own f32
// path when measuring bf16.
#include "bench_common.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"

using namespace kinema;
using namespace kinema::bench;

int main() {
  Peaks peaks = read_peaks();
  const int64_t C = 128, T = 16, H = 64, W = 64;
  double flops = 2.0 * C * C * 27 * T * H * W;
  for (DType t : {DType::f32, DType::bf16}) {
    Tensor x = Tensor::full({1, C, T, H, W}, 0.1f, t), w = Tensor::full({C, C, 3, 3, 3}, 0.01f, t);
    ConvOptions o{{1, 1, 1}, {0, 1, 1}, true};
    double fwd = time_it([&] { NoGradGuard ng; conv3d(x, w, Tensor(), o); }, 3);
    Tensor xg = x.detach().set_requires_grad(), wg = w.detach().set_requires_grad();
    Tensor g = Tensor::full({1, C, T, H, W}, 1.f);
    double both = time_it([&] { backward(conv3d(xg, wg, Tensor(), o), g); }, 2);
    double peak = t == DType::bf16 ? peaks.bf16_gflops : peaks.f32_gflops;
    std::string dt(dtype_name(t));
    report("conv3d", "fwd 128->128 3x3x3 16x64x64 " + dt, flops / fwd / 1e9, "GFLOP/s", peak);
    report("conv3d", "bwd (data+weights) " + dt, 2 * flops / (both - fwd) / 1e9, "GFLOP/s", peak);
  }
  return 0;
}
