// conv3d as a video VAE uses it: 3x3x3, causal time padding; 128 -> 128 channels at 16 x 64 x 64
// (Wan's middle stages) and the narrow full-resolution layers of kinema's default VAE (32 and
// 16 channels, a 25-frame 64x64 training crop, batch 2). Forward, backward-data and backward-weights through kinema against the same
// oneDNN primitives with no wrapper is not separable here, so the peer is kinema's own f32
// path when measuring bf16.
#include "bench_common.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"

using namespace kinema;
using namespace kinema::bench;

namespace {

void measure(const Peaks& peaks, int64_t B, int64_t C, int64_t T, int64_t H, int64_t W) {
  const double flops = 2.0 * B * C * C * 27 * T * H * W;
  const std::string size = std::to_string(C) + "->" + std::to_string(C) + " 3x3x3 " + (B > 1 ? std::to_string(B) + "x" : "") +
                           std::to_string(T) + "x" + std::to_string(H) + "x" + std::to_string(W) + " ";
  for (DType t : {DType::f32, DType::bf16}) {
    Tensor x = Tensor::full({B, C, T, H, W}, 0.1f, t), w = Tensor::full({C, C, 3, 3, 3}, 0.01f, t);
    ConvOptions o{{1, 1, 1}, {0, 1, 1}, true};
    double fwd = time_it([&] { NoGradGuard ng; conv3d(x, w, Tensor(), o); }, 3);
    Tensor xg = x.detach().set_requires_grad(), wg = w.detach().set_requires_grad();
    Tensor g = Tensor::full({B, C, T, H, W}, 1.f);
    double both = time_it([&] { backward(conv3d(xg, wg, Tensor(), o), g); }, 2);
    double peak = t == DType::bf16 ? peaks.bf16_gflops : peaks.f32_gflops;
    std::string dt(dtype_name(t));
    report("conv3d", "fwd " + size + dt, flops / fwd / 1e9, "GFLOP/s", peak);
    report("conv3d", "bwd (data+weights) " + (C == 128 ? std::string() : size) + dt, 2 * flops / (both - fwd) / 1e9,
           "GFLOP/s", peak);
  }
}

}  // namespace

int main() {
  Peaks peaks = read_peaks();
  measure(peaks, 1, 128, 16, 64, 64);
  measure(peaks, 2, 32, 25, 64, 64);
  measure(peaks, 2, 16, 25, 64, 64);
  return 0;
}
