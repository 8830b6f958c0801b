// linear on quantized weights at Wan2.1-T2V-1.3B's shapes (issue 8: `--type q8_0` ran the DiT
// ~3.5x slower than bf16). x is f32, as kinema generate's DiT computes (DiTForwardOptions's
// default; this CPU has no bf16 dot product, so bf16 compute would run f32 GEMMs too):
//   bf16       the DiT's bf16 weight: cast to f32 per call (Run::linear_with), then linear
//   q8_0 old   what linear did before: the whole weight dequantized to f32 (the scalar
//              dequantize_row) per call, then one GEMM
//   q8_0       linear now: dequantized panel by panel into cache, one GEMM per panel
// for tokens 3200 (512x320, 17 frames) and 128 (the smoke run), shapes [1536 -> 1536],
// [1536 -> 8960], [8960 -> 1536]; and a one-layer Wan-1.3B-shaped DiT forward (3,200 tokens,
// 512 text tokens) with bf16, q8_0 and q4_0 weights. All cases run in one process, alternated,
// so a machine shared with other work affects them alike: compare the ratios, not the GFLOP/s.
//   bench_quant_linear [--tokens N] [--no-block]
#include <cstdio>
#include <cstring>
#include <string>

#include "bench_common.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"
#include "kinema/weights.hpp"

using namespace kinema;
using namespace kinema::bench;

namespace {

Tensor randn(const Shape& s, uint64_t seed, float scale) {
  std::vector<float> v(size_t(shape_numel(s)));
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (float& f : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    f = (float(x >> 40) / float(1 << 24) - 0.5f) * 2.f * scale;
  }
  return Tensor::from_vector(v, s);
}

void linear_cases(int64_t tokens) {
  struct Sh { int64_t in, out; };
  for (Sh sh : {Sh{1536, 1536}, Sh{1536, 8960}, Sh{8960, 1536}}) {
    Tensor x = randn({1, tokens, sh.in}, 1, 1.f);
    Tensor wf = randn({sh.out, sh.in}, 2, 0.03f);
    Tensor wb = cast(wf, DType::bf16), w8 = cast(wf, DType::q8_0), w4 = cast(wf, DType::q4_0);
    const double flops = 2.0 * double(tokens) * double(sh.in) * double(sh.out);
    const int reps = tokens >= 1000 ? 3 : 10;
    const std::string shape = std::to_string(tokens) + " tok [" + std::to_string(sh.in) + "->" + std::to_string(sh.out) + "]";
    double t_bf16 = time_it([&] { linear(x, cast(wb, DType::f32)); }, reps);
    double t_q8_old = time_it([&] { linear(x, cast(w8, DType::f32)); }, reps);
    double t_q8 = time_it([&] { linear(x, w8); }, reps);
    double t_q4_old = time_it([&] { linear(x, cast(w4, DType::f32)); }, reps);
    double t_q4 = time_it([&] { linear(x, w4); }, reps);
    double t_bf16b = time_it([&] { linear(x, cast(wb, DType::f32)); }, reps);  // again: drift check
    const double tb = std::min(t_bf16, t_bf16b);
    report("quant_linear", "linear " + shape + " bf16", flops / tb / 1e9, "GFLOP/s", 0);
    report("quant_linear", "linear " + shape + " q8_0 old", flops / t_q8_old / 1e9, "GFLOP/s", 0, "bf16", flops / tb / 1e9);
    report("quant_linear", "linear " + shape + " q8_0", flops / t_q8 / 1e9, "GFLOP/s", 0, "bf16", flops / tb / 1e9);
    report("quant_linear", "linear " + shape + " q4_0 old", flops / t_q4_old / 1e9, "GFLOP/s", 0, "bf16", flops / tb / 1e9);
    report("quant_linear", "linear " + shape + " q4_0", flops / t_q4 / 1e9, "GFLOP/s", 0, "bf16", flops / tb / 1e9);
    std::fprintf(stderr, "%-28s time / bf16: q8_0 old %.2f  q8_0 %.2f  q4_0 old %.2f  q4_0 %.2f  (bf16 runs %.3f, %.3f s)\n",
                 shape.c_str(), t_q8_old / tb, t_q8 / tb, t_q4_old / tb, t_q4 / tb, t_bf16, t_bf16b);
  }
}

void block_case() {
  DiTConfig c;  // Wan2.1-T2V-1.3B, one layer
  c.num_layers = 1;
  const TensorFile f32 = DiT::init_random(c, 3).to_tensors();
  Tensor x = randn({1, 16, 5, 40, 64}, 4, 1.f);  // 5 x 20 x 32 = 3,200 tokens
  Tensor t = Tensor::from_vector({500.f}, {1});
  Tensor ctx = randn({1, 512, 4096}, 5, 1.f);
  const double flops = dit_forward_flops(c, 3200, 512);
  double base = 0;
  for (DType w : {DType::bf16, DType::q8_0, DType::q4_0}) {
    DiT dit = DiT::from_tensors(convert_weights(f32, w));
    NoGradGuard ng;
    const double s = time_it([&] { dit.forward(x, t, ctx); }, 3);
    if (w == DType::bf16) base = s;
    report("quant_linear", "1-layer Wan-1.3B DiT forward 3200 tok " + std::string(dtype_name(w)), flops / s / 1e9,
           "GFLOP/s", 0, "bf16", flops / base / 1e9);
    std::fprintf(stderr, "DiT 1 layer %s: %.3f s (%.2f x bf16)\n", std::string(dtype_name(w)).c_str(), s, s / base);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> tokens = {3200, 128};
  bool block = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--tokens") && i + 1 < argc) tokens = {std::stoll(argv[++i])};
    else if (!std::strcmp(argv[i], "--no-block")) block = false;
  }
  NoGradGuard ng;
  for (int64_t n : tokens) linear_cases(n);
  if (block) block_case();
  return 0;
}
