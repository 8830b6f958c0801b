// Which products train faster here, f32 or bf16. AVX512_BF16 alone does not say: Zen 4/5 run
// vdpbf16ps at the FMA's rate and reach about twice the f32 GEMM speed in bf16, while the Xeon of
// sessions 20-22 (family 6, model 207) runs it at half that rate, so there bf16 GEMMs are ~0.6x
// as fast as f32 and a bf16 training step 1.5x slower. Timing the GEMM itself is the only answer
// that holds on CPUs not yet seen.
#include <algorithm>
#include <chrono>
#include <mutex>

#include "kinema/autograd.hpp"
#include "kinema/compute_choice.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {
namespace {

// Best of a few runs of one linear of the default DiT's shape (1024 tokens, 256 -> 1024).
double linear_gflops(DType compute, const Tensor& x, const Tensor& w, const Tensor& b) {
  using clock = std::chrono::steady_clock;
  linear_autocast(x, w, b, compute);  // plans and buffers
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = clock::now();
    linear_autocast(x, w, b, compute);
    best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
  }
  return 2.0 * double(x.size(0)) * double(x.size(1)) * double(w.size(0)) / best / 1e9;
}

}  // namespace

ComputeSpeeds measure_compute_speeds() {
  static std::once_flag once;
  static ComputeSpeeds speeds;
  std::call_once(once, [] {
    NoGradGuard no_grad;
    const Tensor x = test_input({1024, 256}, DType::f32, 1), w = test_input({1024, 256}, DType::f32, 2),
                 b = test_input({1024}, DType::f32, 3);
    speeds.f32_gflops = linear_gflops(DType::f32, x, w, b);
    speeds.bf16_gflops = linear_gflops(DType::bf16, x, w, b);
  });
  return speeds;
}

DType faster_compute_dtype() {
  const ComputeSpeeds s = measure_compute_speeds();
  // bf16 rounds every product's inputs: worth it only for a clear gain.
  return s.bf16_gflops > 1.15 * s.f32_gflops ? DType::bf16 : DType::f32;
}

}  // namespace kinema
