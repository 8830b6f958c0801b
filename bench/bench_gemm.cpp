// GEMM through kinema::matmul against oneDNN called directly (the same library, no wrapper),
// square sizes 256..4096, f32 and bf16 inputs (f32 accumulation); then kinema::linear, whose
// weight is [out, in] (B column-major, the layout of every model layer) against oneDNN with
// that layout. Reports GFLOP/s, fraction
// of the machine's peak for that dtype, and our wrapper's overhead. The two run in turns, one
// call each per round (medians), so drift in the shared VM's speed does not read as overhead.
#include <oneapi/dnnl/dnnl.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <unordered_map>

#include "bench_common.hpp"
#include "kinema/context.hpp"
#include "kinema/ops.hpp"

using namespace kinema;
using namespace kinema::bench;

namespace {

// oneDNN alone: a primitive made once; the returned call executes it on a, b -> c.
std::function<void()> dnnl_direct(int64_t n, DType t, const Tensor& a, const Tensor& b, Tensor& c,
                                  bool b_column_major = false) {
  using dnnl::memory;
  auto eng = std::make_shared<dnnl::engine>(dnnl::engine::kind::cpu, 0);
  auto s = std::make_shared<dnnl::stream>(*eng);
  auto dt = t == DType::bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  memory::desc am({n, n}, dt, memory::format_tag::ab), bm({n, n}, dt, b_column_major ? memory::format_tag::ba : memory::format_tag::ab),
      cm({n, n}, dt, memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(am, bm, cm), *eng);
  if (std::getenv("KINEMA_VERBOSE")) std::fprintf(stderr, "direct: %s\n", pd.impl_info_str());
  auto mm = std::make_shared<dnnl::matmul>(pd);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(am, *eng, a.raw_data())},
                                       {DNNL_ARG_WEIGHTS, memory(bm, *eng, b.raw_data())},
                                       {DNNL_ARG_DST, memory(cm, *eng, c.raw_data())}};
  return [=] {
    mm->execute(*s, args);
    s->wait();
  };
}

// One n^3 product of `op` ("" for matmul, "linear") against oneDNN direct, timed in turns for
// about a second, reported as GFLOP/s and as a fraction of this dtype's peak.
void compare(const Peaks& peaks, DType t, int64_t n, const std::string& op, bool b_column_major) {
  Tensor a = Tensor::full({n, n}, 0.5f, t), b = Tensor::full({n, n}, 0.25f, t);
  Tensor c = Tensor::empty({n, n}, t);
  const double flops = 2.0 * double(n) * double(n) * double(n);
  std::vector<Variant> vs{{"kinema", [&] { op.empty() ? matmul(a, b) : linear(a, b); }, {}}};
  // oneDNN 2.7 has no bf16 matmul for CPUs without AVX-512 (a Zen 3 refuses the descriptor);
  // kinema's bf16 product still runs there (f32 GEMM on converted operands), without a peer row.
  try {
    vs.push_back({"oneDNN direct", dnnl_direct(n, t, a, b, c, b_column_major), {}});
  } catch (const dnnl::error&) {
  }
  const int rounds = int(std::clamp(0.5 / time_it(vs[0].run, 1), 5.0, 2000.0));
  const std::vector<double> s = interleaved(vs, rounds);
  const double peak = t == DType::bf16 ? peaks.bf16_gflops : peaks.f32_gflops;
  const std::string name = std::string(dtype_name(t)) + (op.empty() ? "" : " " + op) + " " + std::to_string(n) + "^3";
  if (vs.size() > 1)
    report("gemm", name, flops / s[0] / 1e9, "GFLOP/s", peak, "oneDNN direct", flops / s[1] / 1e9);
  else
    report("gemm", name, flops / s[0] / 1e9, "GFLOP/s", peak);
}

}  // namespace

int main(int argc, char** argv) {
  const Peaks peaks = read_peaks();
  const int64_t max_n = argc > 1 ? std::atoll(argv[1]) : 4096;
  for (DType t : {DType::f32, DType::bf16})
    for (int64_t n = 256; n <= max_n; n *= 2) compare(peaks, t, n, "", false);
  // linear's weight is [out, in]: B column-major
  for (DType t : {DType::f32, DType::bf16})
    for (int64_t n = 1024; n <= max_n; n *= 2) compare(peaks, t, n, "linear", true);
  return 0;
}
