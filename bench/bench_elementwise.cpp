// Bandwidth-bound ops on 16M f32 elements against memcpy of the same bytes: each op's
// effective GB/s (bytes read + written) as a fraction of the measured memcpy bandwidth.
#include <omp.h>

#include <cstring>

#include "bench_common.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"

using namespace kinema;
using namespace kinema::bench;

int main() {
  Peaks peaks = read_peaks();
  const int64_t rows = 4096, cols = 4096, n = rows * cols;
  Tensor a = Tensor::full({rows, cols}, 0.5f), b = Tensor::full({rows, cols}, 0.25f);
  Tensor row = Tensor::full({cols}, 1.5f), w = Tensor::full({cols}, 1.f), bias = Tensor::zeros({cols});
  NoGradGuard ng;
  // The peer: memcpy of the same 64 MiB split over the same threads our ops use.
  std::vector<char> src(size_t(n) * 4, 1), dst(size_t(n) * 4, 0);
  double tm = time_it([&] {
#pragma omp parallel
    {
      size_t parts = size_t(omp_get_num_threads()), me = size_t(omp_get_thread_num());
      size_t b = src.size() * me / parts, e = src.size() * (me + 1) / parts;
      std::memcpy(dst.data() + b, src.data() + b, e - b);
    }
  }, 5);
  double memcpy_gbs = 2.0 * double(n) * 4 / tm / 1e9;
  struct Case {
    const char* name;
    double bytes;  // per element moved
    std::function<void()> f;
  };
  std::vector<Case> cases{
      {"add (a + b)", 12, [&] { add(a, b); }},
      {"mul broadcast row", 8, [&] { mul(a, row); }},
      {"gelu tanh", 8, [&] { gelu(a); }},
      {"silu", 8, [&] { silu(a); }},
      {"softmax rows of 4096", 8, [&] { softmax(a); }},
      {"layer_norm rows of 4096", 8, [&] { layer_norm(a, w, bias); }},
      {"rms_norm rows of 4096", 8, [&] { rms_norm(a, w); }},
      {"sum over rows", 4, [&] { sum(a, {{0}, false}); }},
      {"cast f32->bf16", 6, [&] { cast(a, DType::bf16); }},
  };
  for (const Case& c : cases) {
    double t = time_it(c.f, 5);
    double gbs = c.bytes * double(n) / t / 1e9;
    report("elementwise", c.name, gbs, "GB/s", memcpy_gbs, "memcpy same buffer", memcpy_gbs);
  }
  (void)peaks;
  return 0;
}
