// linear on q8_0 / q4_0 weights with integer dot products (issue 8), as ggml multiplies a
// quantized weight: the activations are quantized on the fly, row by row, into blocks of 32
// int8 values with an f32 scale, and each block's dot product with a weight block is an exact
// int32 sum, scaled by both blocks' scales and accumulated in f32:
//   y[m, n] = sum_b fma(float(I[m, n, b]), xd[m, b] * wd[n, b], .)   (blocks b in order)
//   I[m, n, b] = sum_{j < 32} xq[m, 32b + j] * wq[n, 32b + j]
// The weight's q values and scales are its own (no error added); the activations' rounding is
// the approximation (tests/ops/test_quant_linear.cpp states its bound). Context's
// QuantizedLinear::dequantize keeps the exact path (dequantized weight, f32 GEMM).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kinema/dtype.hpp"

namespace kinema {

// Activation blocks: d = max|x| / 127 and q = round_half_even(x * (127 / max|x|)) in
// [-127, 127] (0 and d = 0 for an all-zero block), stored as q + 128 (u8): the unsigned operand
// of vpdpbusd. n is a multiple of 32; q gets n bytes, d n / 32 scales. Both twins compute the
// same f32 operations, so they agree bit for bit.
void quantize_act_q8_f32(const float* x, uint8_t* q, float* d, int64_t n);
void quantize_act_q8_bf16(const uint16_t* x, uint8_t* q, float* d, int64_t n);
void quantize_act_q8_f32_ref(const float* x, uint8_t* q, float* d, int64_t n);
void quantize_act_q8_bf16_ref(const uint16_t* x, uint8_t* q, float* d, int64_t n);

// One int8 GEMM: y [m, n] (row stride ldy, f32) = x [m, k] . w [n, k]^T, x quantized as above.
struct Int8GemmDesc {
  int64_t m = 0, n = 0, k = 0;  // k: a multiple of 32
  const uint8_t* xq = nullptr;  // [m, k] activation q + 128
  const float* xd = nullptr;    // [m, k / 32] activation scales
  const uint8_t* w = nullptr;   // [n, k / 32] weight blocks (q8_0 or q4_0, GGUF layout)
  DType wt = DType::q8_0;
  float* y = nullptr;           // [m, n]
  int64_t ldy = 0;
};

// Columns a thread's range must start on (the kernel's unit of output columns).
inline constexpr int64_t kInt8GemmCols = 32;

// True where the CPU has AVX512-VNNI (vpdpbusd on 512-bit vectors): int8_gemm_vnni's target.
bool cpu_has_int8_dot();
// Makes cpu_has_int8_dot() false until called again with false, so tests run the fallback
// (the dequantize path) on a CPU that has VNNI, as simd_force_target does for Highway.
void int8_dot_force_disabled(bool off);
// Rows [m0, m1) and columns [n0, n1) of y (n0 a multiple of kInt8GemmCols) on the calling
// thread, with the weight repacked panel by panel into `scratch` (int8_gemm_scratch_bytes,
// 64-byte aligned). Only where cpu_has_int8_dot().
size_t int8_gemm_scratch_bytes();
void int8_gemm_vnni(const Int8GemmDesc& d, int64_t m0, int64_t m1, int64_t n0, int64_t n1, uint8_t* scratch);
// The scalar twin: the same int32 block sums and the same f32 operations in the same order.
void int8_gemm_ref(const Int8GemmDesc& d, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

// y [m, n] f32 (row stride ldy) = x [m, k] (f32 or bf16, contiguous) . w^T: quantizes x and
// runs the GEMM on the context's threads (int8_gemm_vnni, or int8_gemm_ref when `reference`).
void linear_int8(const void* x, DType xt, int64_t m, int64_t k, const uint8_t* w, DType wt, int64_t n,
                 float* y, int64_t ldy, bool reference = false);

}  // namespace kinema
