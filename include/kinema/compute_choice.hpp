// f32 or bf16 products for training: which one this CPU multiplies faster.
#pragma once
#include "kinema/dtype.hpp"

namespace kinema {

// Training's GEMM speed in each compute dtype on this CPU, timed once per process (a linear of
// the default DiT's shape on the current context's threads, ~20 ms), and the faster of the two:
// bf16 only where it beats f32 by 15%. AVX512_BF16 alone does not decide it: some Xeons run
// vdpbf16ps at half the FMA rate, so there f32 trains 1.5x faster.
struct ComputeSpeeds { double f32_gflops = 0, bf16_gflops = 0; };
ComputeSpeeds measure_compute_speeds();
DType faster_compute_dtype();

}  // namespace kinema
