// oneDNN behind a small interface: primitives are created once per (shapes, strides, dtypes)
// and kept in the context's plan cache; nothing dnnl:: leaks out of backend/cpu.
#pragma once
#include <cstdint>

#include "kinema/dtype.hpp"

namespace kinema {

// Whether this CPU has bf16 dot-product instructions (AVX512_BF16 or AMX). Without them,
// oneDNN's bf16 GEMM emulates and runs ~4x slower than f32, so kinema computes bf16 in f32.
bool cpu_has_bf16_dot();

// C[b] = A[b] @ B[b] for b < batch, all 3-D with element strides; a batch stride of 0
// broadcasts that operand. dtypes: f32 or bf16 for A and B (the same), f32 or bf16 for C.
struct MatmulDesc {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  int64_t a_strides[3] = {0, 0, 0};  // batch, row (m), col (k)
  int64_t b_strides[3] = {0, 0, 0};  // batch, row (k), col (n)
  DType ab = DType::f32, c = DType::f32;
  bool accumulate = false;  // C += A @ B (oneDNN sum post-op)
  bool bias = false;        // C = A @ B + bias, an f32 [n] over every row (dnnl_matmul's bias)
  int64_t c_ld = 0;         // C's row stride (batch stride m * c_ld); 0 = n, C dense
};

// Returns false when oneDNN cannot run this combination on this CPU (caller falls back).
bool dnnl_matmul(const MatmulDesc& d, const void* a, const void* b, void* c, const float* bias = nullptr);

// Convolution forward/backward through oneDNN, NCHW / NCDHW f32 or bf16.
struct ConvDesc {
  int spatial = 2;            // 2 or 3
  int64_t n = 1, c = 1, o = 1, groups = 1;
  int64_t in[3] = {1, 1, 1};  // D, H, W (2-D uses the last two)
  int64_t out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1};
  int64_t pad_l[3] = {0, 0, 0}, pad_r[3] = {0, 0, 0};
  bool bias = false;
  DType dtype = DType::f32;
  // bf16 inputs, f32 results (mixed-precision training): the forward's dst and bias, the
  // backward-data pass's diff_src and the backward-weights pass's diff_weights and diff_bias
  // are f32, so nothing is rounded to bf16 and widened again.
  bool f32_results = false;
};
enum class ConvPass { forward, backward_data, backward_weights };
// forward: (x, w, b) -> y. backward_data: (dy, w) -> dx. backward_weights: (x, dy) -> (dw, db).
// Returns false when oneDNN has no fast implementation for this dtype on this CPU.
bool dnnl_conv(const ConvDesc& d, ConvPass pass, const void* in0, const void* in1, void* out0,
               void* out1 = nullptr, const void* bias = nullptr);

}  // namespace kinema
