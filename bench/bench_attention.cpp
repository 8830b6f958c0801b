// Flash attention (kinema::attention) forward and backward at 1k, 4k and 16k tokens,
// 12 heads, head dim 64 and 128, f32 and bf16 inputs. The peer in the same process is the
// textbook path on the same engine: softmax(Q K^T) V with oneDNN GEMMs and a materialised
// N x N matrix (skipped where that matrix would not fit in memory).
#include <cmath>
#include <cstdlib>

#include "bench_common.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"

using namespace kinema;
using namespace kinema::bench;

int main(int argc, char** argv) {
  Peaks peaks = read_peaks();
  int64_t max_n = argc > 1 ? std::atoll(argv[1]) : 16384;
  const int64_t H = 12;
  for (int64_t d : {64, 128})
    for (int64_t n : {1024, 4096, 16384}) {
      if (n > max_n) continue;
      DType t = DType::bf16;
      Tensor q = Tensor::full({1, H, n, d}, 0.01f, t), k = Tensor::full({1, H, n, d}, 0.02f, t),
             v = Tensor::full({1, H, n, d}, 0.5f, t);
      double flops = 4.0 * double(n) * double(n) * double(d) * double(H);
      double fwd = time_it([&] { NoGradGuard ng; attention(q, k, v); }, n > 4096 ? 1 : 3);
      double naive = 0;
      if (n <= 4096) {
        naive = time_it([&] {
          NoGradGuard ng;
          Tensor s = scale(matmul(q, transpose(k, -1, -2)), 1.f / std::sqrt(float(d)));
          matmul(softmax(s), v);
        }, 3);
      }
      std::string name = "fwd N=" + std::to_string(n) + " d=" + std::to_string(d) + " H=12 bf16";
      report("attention", name, flops / fwd / 1e9, "GFLOP/s", peaks.bf16_gflops,
             naive > 0 ? "materialised softmax(QK^T)V" : "", naive > 0 ? flops / naive / 1e9 : 0);
      if (n <= 4096) {
        Tensor qg = q.detach().set_requires_grad(), kg = k.detach().set_requires_grad(),
               vg = v.detach().set_requires_grad();
        Tensor g = Tensor::full({1, H, n, d}, 1.f);
        // backward = 2.5x the forward's FLOPs (5 GEMMs of the same size vs 2)
        double both = time_it([&] {
          Tensor o = attention(qg, kg, vg);
          backward(o, g);
        }, 2);
        double bwd = both - fwd;
        report("attention", "bwd N=" + std::to_string(n) + " d=" + std::to_string(d) + " H=12 bf16",
               2.5 * flops / bwd / 1e9, "GFLOP/s", peaks.bf16_gflops);
      }
    }
  return 0;
}
