// What flushing denormals buys (core/denormals.hpp): the text encoder's backward GEMM of the
// default model (M 500 = 4 captions of 125 tokens, K = N = 256) on gradients of which half are
// denormal, one thread, as kinema runs it (flush on) and as the CPU would without the flush.
#include <immintrin.h>

#include <vector>

#include "bench_common.hpp"
#include "kinema/context.hpp"
#include "kinema/ops.hpp"

using namespace kinema;
using namespace kinema::bench;

int main() {
  Peaks peaks = read_peaks();
  ContextOptions o;
  o.threads = 1;
  Context ctx(o);
  ContextScope scope(ctx);
  const int64_t m = 500, k = 256, n = 256;
  std::vector<float> g(size_t(m * k));
  for (size_t i = 0; i < g.size(); ++i) g[i] = i % 2 ? 3e-39f : 1e-3f;
  Tensor a = Tensor::from_vector(g, {m, k}), b = Tensor::full({k, n}, 0.25f);
  const double flops = 2.0 * double(m * n * k);
  const double flushed = time_it([&] { matmul(a, b); }, 5, 0.5);
  _mm_setcsr(_mm_getcsr() & ~0x8040u);  // this thread only: the flush is set once per thread
  const double unflushed = time_it([&] { matmul(a, b); }, 5, 0.5);
  report("denormals", "f32 500x256x256, half denormal, 1 thread", flops / flushed / 1e9, "GFLOP/s",
         peaks.f32_gflops / 2, "without flushing", flops / unflushed / 1e9);
  return 0;
}
