// Measures this machine's limits, the denominators of every other benchmark:
//   f32 FMA peak: independent AVX-512 (else AVX2) FMA chains on every core;
//   bf16 dot-product peak: vdpbf16ps chains where the CPU has AVX512_BF16, else the f32 peak
//     (bf16 then runs through f32 FMA, so that is the honest ceiling);
//   memcpy bandwidth on a buffer far larger than the caches.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "bench_common.hpp"

namespace {

// Twelve independent accumulator chains, written out so they live in registers (an array
// indexed in a loop may be kept in memory and measure store forwarding instead of FMA).
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
// vdpbf16ps has a longer latency than FMA on some cores (Zen 5 reads 8% low with twelve
// chains): twenty-four keep both pipes busy and still fit the 32 zmm registers.
#define CHAINS24(X) CHAINS(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)

__attribute__((target("avx512f,fma"))) double fma_chains_avx512(long iters) {
#define DECL(i) __m512 acc##i = _mm512_set1_ps(float(i));
  CHAINS(DECL)
#undef DECL
  const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
#define STEP(i) acc##i = _mm512_fmadd_ps(acc##i, a, b);
    CHAINS(STEP)
#undef STEP
    __asm__ volatile("" ::: "memory");
  }
  __m512 s = _mm512_set1_ps(0.f);
#define SUM(i) s = _mm512_add_ps(s, acc##i);
  CHAINS(SUM)
#undef SUM
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return double(iters) * 12 * 16 * 2;  // flops
}

__attribute__((target("avx2,fma"))) double fma_chains_avx2(long iters) {
#define DECL(i) __m256 acc##i = _mm256_set1_ps(float(i));
  CHAINS(DECL)
#undef DECL
  const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it) {
#define STEP(i) acc##i = _mm256_fmadd_ps(acc##i, a, b);
    CHAINS(STEP)
#undef STEP
    __asm__ volatile("" ::: "memory");
  }
  __m256 s = _mm256_set1_ps(0.f);
#define SUM(i) s = _mm256_add_ps(s, acc##i);
  CHAINS(SUM)
#undef SUM
  float out[8];
  _mm256_storeu_ps(out, s);
  volatile float sink = out[0];
  (void)sink;
  return double(iters) * 12 * 8 * 2;
}

__attribute__((target("avx512f,avx512bf16"))) double bf16_chains(long iters) {
#define DECL(i) __m512 acc##i = _mm512_set1_ps(float(i));
  CHAINS24(DECL)
#undef DECL
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);
  for (long it = 0; it < iters; ++it) {
#define STEP(i) acc##i = _mm512_dpbf16_ps(acc##i, a, b);
    CHAINS24(STEP)
#undef STEP
    __asm__ volatile("" ::: "memory");
  }
  __m512 s = _mm512_set1_ps(0.f);
#define SUM(i) s = _mm512_add_ps(s, acc##i);
  CHAINS24(SUM)
#undef SUM
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return double(iters) * 24 * 32 * 2;
}

// Best of several runs: the peak is what the machine can do, and this VM's clock and its
// neighbours make single runs vary by up to a third.
double gflops_all_cores(double (*fn)(long), long iters) {
  double best = 0;
  for (int rep = 0; rep < 7; ++rep) {
    double flops = 0;
    double t0 = kinema::bench::now_s();
#pragma omp parallel reduction(+ : flops)
    flops += fn(iters);
    best = std::max(best, flops / (kinema::bench::now_s() - t0) / 1e9);
  }
  return best;
}

}  // namespace

int main() {
  using namespace kinema::bench;
  bool avx512 = __builtin_cpu_supports("avx512f");
  bool bf16 = __builtin_cpu_supports("avx512bf16");
  const long iters = 20'000'000;
  double f32 = avx512 ? gflops_all_cores(fma_chains_avx512, iters) : gflops_all_cores(fma_chains_avx2, iters);
  double one = 0;
  {
    omp_set_num_threads(1);
    one = avx512 ? gflops_all_cores(fma_chains_avx512, iters) : gflops_all_cores(fma_chains_avx2, iters);
    omp_set_num_threads(omp_get_num_procs());
  }
  double bf = bf16 ? gflops_all_cores(bf16_chains, iters) : f32;
  size_t n = size_t(512) << 20;
  std::vector<char> src(n, 1), dst(n, 0);
  double t = time_it([&] { std::memcpy(dst.data(), src.data(), n); }, 5);
  double gbs = 2.0 * double(n) / t / 1e9;  // read + write
  report("peak", "f32 FMA, all cores", f32, "GFLOP/s", f32);
  report("peak", "f32 FMA, one core", one, "GFLOP/s", f32);
  report("peak", bf16 ? "bf16 dot (vdpbf16ps), all cores" : "bf16 (no AVX512_BF16: = f32 FMA)", bf, "GFLOP/s", bf);
  report("peak", "memcpy 512 MiB (read+write)", gbs, "GB/s", gbs);
  std::ofstream out(std::string(KINEMA_BENCH_RESULTS) + "/peak.json");
  out << "{\"f32_fma_gflops\": " << f32 << ", \"f32_fma_gflops_one_core\": " << one
      << ", \"bf16_peak_gflops\": " << bf << ", \"avx512_bf16\": " << (bf16 ? "true" : "false")
      << ", \"memcpy_gbs\": " << gbs << ", \"cores\": " << omp_get_num_procs() << "}\n";
  return 0;
}
