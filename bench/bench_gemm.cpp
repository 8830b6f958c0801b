// GEMM through kinema::matmul against oneDNN called directly (the same library, no wrapper),
// square sizes 256..4096, f32 and bf16 inputs (f32 accumulation). Reports GFLOP/s, fraction
// of the machine's peak for that dtype, and our wrapper's overhead.
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdio>
#include <cstdlib>

#include "bench_common.hpp"
#include "kinema/context.hpp"
#include "kinema/ops.hpp"

using namespace kinema;
using namespace kinema::bench;

namespace {

// oneDNN alone: primitive made once, executed in the timed loop.
double dnnl_direct(int64_t n, DType t, const Tensor& a, const Tensor& b, Tensor& c) {
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  auto dt = t == DType::bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  memory::desc am({n, n}, dt, memory::format_tag::ab), bm({n, n}, dt, memory::format_tag::ab),
      cm({n, n}, dt, memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(am, bm, cm), eng);
  if (std::getenv("KINEMA_VERBOSE")) std::fprintf(stderr, "direct: %s\n", pd.impl_info_str());
  dnnl::matmul mm(pd);
  memory A(am, eng, a.raw_data()), B(bm, eng, b.raw_data()), C(cm, eng, c.raw_data());
  return time_it([&] {
    mm.execute(s, {{DNNL_ARG_SRC, A}, {DNNL_ARG_WEIGHTS, B}, {DNNL_ARG_DST, C}});
    s.wait();
  }, 3, 0.5);
}

}  // namespace

int main(int argc, char** argv) {
  Peaks peaks = read_peaks();
  int64_t max_n = argc > 1 ? std::atoll(argv[1]) : 4096;
  for (DType t : {DType::f32, DType::bf16})
    for (int64_t n = 256; n <= max_n; n *= 2) {
      Tensor a = Tensor::full({n, n}, 0.5f, t), b = Tensor::full({n, n}, 0.25f, t);
      Tensor c = Tensor::empty({n, n}, t);
      double flops = 2.0 * double(n) * double(n) * double(n);
      double ours = time_it([&] { matmul(a, b); }, 3, 0.5);
      double direct = dnnl_direct(n, t, a, b, c);
      double peak = t == DType::bf16 ? peaks.bf16_gflops : peaks.f32_gflops;
      std::string name = std::string(dtype_name(t)) + " " + std::to_string(n) + "^3";
      report("gemm", name, flops / ours / 1e9, "GFLOP/s", peak, "oneDNN direct", flops / direct / 1e9);
    }
  return 0;
}
