// linear on quantized weights at Wan2.1-T2V-1.3B's shapes (issue 8: the DiT step in q8_0 must
// be >= 2x stable-diffusion.cpp's). x is f32, as kinema generate's DiT computes
// (DiTForwardOptions's default; this CPU has no bf16 dot product, so bf16 compute would run f32
// GEMMs too):
//   f32        the weight already in f32: one oneDNN f32 GEMM (the f32 speed of light here)
//   bf16       the DiT's bf16 weight: cast to f32 per call (Run::linear_with), then linear
//   q8_0 deq   QuantizedLinear::dequantize: dequantized panel by panel, one oneDNN GEMM per panel
//   q8_0 int8  QuantizedLinear::int8 (the default): x quantized to int8 blocks on the fly,
//              integer dot products on AVX512-VNNI (backend/cpu/simd/quant_int8_gemm.cpp)
//   q4_0 deq, q4_0 int8   the same for q4_0
// for tokens 3200 (512x320, 17 frames) and 128 (the smoke run), shapes [1536 -> 1536],
// [1536 -> 8960], [8960 -> 1536]; and a one-layer Wan-1.3B-shaped DiT forward (3,200 tokens,
// 512 text tokens) with bf16, q8_0 and q4_0 weights, each quantized one both ways. The variants
// run interleaved (one call of each per round, the median over rounds), so a machine shared with
// other work affects them alike: compare the ratios. GFLOP/s count 2 M N K per call; int8 rows
// also give the fraction of the int8 peak, 4x bench_peak's f32 FMA peak (vpdpbusd does 64
// multiply-adds where an FMA does 16, at the same rate on this CPU).
//   bench_quant_linear [--tokens N] [--no-block]      (--tokens 1: a decode-like product)
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "bench_common.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
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

Tensor linear_as(QuantizedLinear mode, const Tensor& x, const Tensor& w) {
  QuantizedLinearScope scope(mode);
  return linear(x, w);
}

void linear_cases(int64_t tokens, const Peaks& peaks) {
  struct Sh { int64_t in, out; };
  const QuantizedLinear deq = QuantizedLinear::dequantize, int8 = QuantizedLinear::int8;
  for (Sh sh : {Sh{1536, 1536}, Sh{1536, 8960}, Sh{8960, 1536}}) {
    Tensor x = randn({1, tokens, sh.in}, 1, 1.f);
    Tensor wf = randn({sh.out, sh.in}, 2, 0.03f);
    Tensor wb = cast(wf, DType::bf16), w8 = cast(wf, DType::q8_0), w4 = cast(wf, DType::q4_0);
    const double flops = 2.0 * double(tokens) * double(sh.in) * double(sh.out);
    const std::string shape = std::to_string(tokens) + " tok [" + std::to_string(sh.in) + "->" + std::to_string(sh.out) + "]";
    std::vector<Variant> vs = {{"f32", [&] { linear(x, wf); }, {}},
                               {"bf16", [&] { linear(x, cast(wb, DType::f32)); }, {}},
                               {"q8_0 deq", [&] { linear_as(deq, x, w8); }, {}},
                               {"q8_0 int8", [&] { linear_as(int8, x, w8); }, {}},
                               {"q4_0 deq", [&] { linear_as(deq, x, w4); }, {}},
                               {"q4_0 int8", [&] { linear_as(int8, x, w4); }, {}}};
    const std::vector<double> t = interleaved(vs, tokens >= 1000 ? 5 : tokens >= 64 ? 15 : 50);
    std::string line = shape + " GFLOP/s:";
    for (size_t i = 0; i < vs.size(); ++i) {
      const bool is_int8 = vs[i].name.ends_with("int8");
      const double peak = is_int8 ? 4 * peaks.f32_gflops : peaks.f32_gflops;
      report("quant_linear", "linear " + shape + " " + vs[i].name, flops / t[i] / 1e9, "GFLOP/s", peak, "f32",
             flops / t[0] / 1e9);
      char v[32];
      std::snprintf(v, sizeof v, " %.3g", flops / t[i] / 1e9);
      line += "  " + vs[i].name + v;
    }
    std::fprintf(stderr, "%s", line.c_str());
    std::fprintf(stderr, "\n%-28s time / f32: bf16 %.2f  q8_0 deq %.2f  int8 %.2f  q4_0 deq %.2f  int8 %.2f;"
                 " q8_0 int8 at %.0f%% of the int8 peak\n", "", t[1] / t[0], t[2] / t[0], t[3] / t[0], t[4] / t[0],
                 t[5] / t[0], peaks.f32_gflops > 0 ? 100 * flops / t[3] / 1e9 / (4 * peaks.f32_gflops) : 0.0);
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
  DiT bf16 = DiT::from_tensors(convert_weights(f32, DType::bf16));
  DiT q8 = DiT::from_tensors(convert_weights(f32, DType::q8_0));
  DiT q4 = DiT::from_tensors(convert_weights(f32, DType::q4_0));
  auto forward = [&](const DiT& d, QuantizedLinear mode) {
    QuantizedLinearScope scope(mode);
    d.forward(x, t, ctx);
  };
  const QuantizedLinear deq = QuantizedLinear::dequantize, int8 = QuantizedLinear::int8;
  std::vector<Variant> vs = {{"bf16", [&] { forward(bf16, deq); }, {}},
                             {"q8_0 deq", [&] { forward(q8, deq); }, {}},
                             {"q8_0 int8", [&] { forward(q8, int8); }, {}},
                             {"q4_0 deq", [&] { forward(q4, deq); }, {}},
                             {"q4_0 int8", [&] { forward(q4, int8); }, {}}};
  const std::vector<double> s = interleaved(vs, 3);
  for (size_t i = 0; i < vs.size(); ++i) {
    report("quant_linear", "1-layer Wan-1.3B DiT forward 3200 tok " + vs[i].name, flops / s[i] / 1e9, "GFLOP/s", 0,
           "bf16", flops / s[0] / 1e9);
    std::fprintf(stderr, "DiT 1 layer %s: %.3f s (%.2f x bf16)\n", vs[i].name.c_str(), s[i], s[i] / s[0]);
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
  const Peaks peaks = read_peaks();
  for (int64_t n : tokens) linear_cases(n, peaks);
  if (block) block_case();
  return 0;
}
