// CPU kernels. Each fast kernel has a reference twin with the same signature in ref/
// (suffix _ref); the dispatch functions in the exec files pick one by the context's switch.
// Kernels may assume valid input: ops validate before calling them.
#pragma once
#include <cstdint>

#include "kinema/dtype.hpp"

namespace kinema {

enum class BinaryOp : uint8_t { add, sub, mul, div };
enum class UnaryOp : uint8_t {
  neg, exp, log, sqrt, rsqrt, square, tanh, sigmoid, silu, relu, gelu_tanh, gelu_erf,
  scale, add_scalar,  // use the parameter p
  // derivatives f'(x), used by vjps
  relu_grad, silu_grad, gelu_tanh_grad, gelu_erf_grad,
};

// out[i] = a[i*sa] (op) b[i*sb], i < n. Strides in elements (0 broadcasts).
void binary_f32(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out,
                int64_t n);
void binary_f32_ref(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb,
                    float* out, int64_t n);

// y[i] = f(x[i]), contiguous.
void unary_f32(UnaryOp op, const float* x, float* y, int64_t n, float p);
void unary_f32_ref(UnaryOp op, const float* x, float* y, int64_t n, float p);

// Highway targets this build compiled and this CPU supports, for tests that force each one.
int64_t simd_targets_available();
void simd_force_target(int64_t target);  // 0 = back to the best one
const char* simd_target_name(int64_t target);

}  // namespace kinema

namespace kinema {

// Row reductions over contiguous [rows, len] f32 data.
void sum_rows_f32(const float* x, int64_t rows, int64_t len, float* out);   // out[r] = sum_j x[r,j]
void sum_rows_f32_ref(const float* x, int64_t rows, int64_t len, float* out);
// out[j] = sum_r x[r * ld + j] for j < cols
void sum_cols_f32(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out);
void sum_cols_f32_ref(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out);
void max_rows_f32(const float* x, int64_t rows, int64_t len, float* out);
void max_rows_f32_ref(const float* x, int64_t rows, int64_t len, float* out);
// y[r] = softmax(x[r]) (log_softmax when log is set), numerically stable.
void softmax_rows_f32(const float* x, float* y, int64_t rows, int64_t len, bool log);
void softmax_rows_f32_ref(const float* x, float* y, int64_t rows, int64_t len, bool log);

}  // namespace kinema

namespace kinema {
struct MatmulDesc;
// Naive batched matmul on f32 data with MatmulDesc's strides, accumulating in double.
void matmul_f32_ref(const MatmulDesc& d, const float* a, const float* b, float* c);
}  // namespace kinema

namespace kinema {

// Normalisation over rows of `len` contiguous f32 values:
//   xhat = (x - mean) * rstd   (mean = 0 when !center: RMSNorm),  rstd = 1/sqrt(var + eps)
//   y = xhat * w[idx] + b[idx], idx = j                       (spatial == 0: LayerNorm/RMSNorm)
//                              idx = (row % groups) * (len / spatial) + j / spatial (GroupNorm)
// w and b may be null (1 and 0).
struct NormDesc {
  int64_t rows = 0, len = 0;
  bool center = true;
  float eps = 1e-5f;
  int64_t groups = 1, spatial = 0;
};
void norm_forward_f32(const NormDesc& d, const float* x, const float* w, const float* b, float* y,
                      float* mean, float* rstd);
void norm_forward_f32_ref(const NormDesc& d, const float* x, const float* w, const float* b,
                          float* y, float* mean, float* rstd);
// dx from the cotangent g; also writes xhat (for the weight gradient) when xhat != null.
void norm_backward_f32(const NormDesc& d, const float* x, const float* w, const float* g,
                       const float* mean, const float* rstd, float* dx, float* xhat);
void norm_backward_f32_ref(const NormDesc& d, const float* x, const float* w, const float* g,
                           const float* mean, const float* rstd, float* dx, float* xhat);

}  // namespace kinema

namespace kinema {
struct ConvDesc;
// Naive direct convolution (NCDHW; 2-D uses D = 1), double accumulation.
void conv_forward_f32_ref(const ConvDesc& d, const float* x, const float* w, const float* b, float* y);
void conv_backward_data_f32_ref(const ConvDesc& d, const float* dy, const float* w, float* dx);
void conv_backward_weights_f32_ref(const ConvDesc& d, const float* x, const float* dy, float* dw,
                                   float* db);
}  // namespace kinema

namespace kinema {
// Rotates pairs (x[2i], x[2i+1]) of x [B, N, H, D] by angle[n, i] (sign -1: the inverse).
// angles: [N, D/2] in radians.
void rope_f32(const float* x, float* y, const float* angles, int64_t B, int64_t N, int64_t H,
              int64_t D, float sign);
void rope_f32_ref(const float* x, float* y, const float* angles, int64_t B, int64_t N, int64_t H,
                  int64_t D, float sign);
}  // namespace kinema

namespace kinema {
// C[M, N] += A[M, K] @ B[K, N], all row-major f32 with leading dims lda/ldb/ldc.
// Contract (kPaddedToVector): N, ldb and ldc are multiples of kTileAlign floats and B/C rows
// may be read and written up to N; callers pad their packed buffers with zeros.
inline constexpr int64_t kTileAlign = 16;
void gemm_acc_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc);
void gemm_acc_f32_ref(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float* C, int64_t ldc);
// The same with A stored transposed: A is [K, M] with row stride lda (C += A^T B).
void gemm_acc_f32_at(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                     int64_t ldb, float* C, int64_t ldc);
// C = A @ B under gemm_acc_f32's contract (C is written, not read).
void gemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
              int64_t ldb, float* C, int64_t ldc);
// bf16 tiles on AVX512_BF16 (only where cpu_has_bf16_dot()): C[M, N] (+)= A @ B with f32
// accumulation, A [M, 2 K2] and B [2 K2, N] both given as dwords holding bf16 pairs along K
// (low half the even k), the operands of vdpbf16ps. A's pair (i, p) is A[i * a_row + p * a_pair]:
// a_row = lda / 2, a_pair = 1 for bf16 rows; a_row = 1, a_pair = ld for pair_rows_bf16 of A^T's
// rows (a transposed operand without a transpose). B's pair (p, j) is B[p * ldb + j]. N is a
// multiple of kTileAlign. `accumulate` false writes C.
void gemm_bf16_pairs(int64_t M, int64_t N, int64_t K2, const uint32_t* A, int64_t a_row, int64_t a_pair,
                     const uint32_t* B, int64_t ldb, float* C, int64_t ldc, bool accumulate);
void gemm_bf16_pairs_ref(int64_t M, int64_t N, int64_t K2, const uint32_t* A, int64_t a_row, int64_t a_pair,
                         const uint32_t* B, int64_t ldb, float* C, int64_t ldc, bool accumulate);
// y[r, c] = bf16(x[r, c]) (round to nearest even) for r < rows, c < cols.
void to_bf16_rows(const float* x, int64_t rows, int64_t cols, int64_t ldx, uint16_t* y, int64_t ldy);
// out[c] = the pair (bf16(row0[c]), bf16(row1[c])) for c < n; row1 null pairs with zeros.
void pair_rows_bf16(const float* row0, const float* row1, int64_t n, uint32_t* out);
// p[j] = exp(s[j] - shift) for j < n, s[j] <= shift (-inf gives 0); returns the sum of p.
float exp_shift_sum_f32(const float* s, float* p, int64_t n, float shift);
float exp_shift_sum_f32_ref(const float* s, float* p, int64_t n, float shift);
// One key block of flash attention's online softmax over scores S [rows, ld] (cols valid,
// padding to cols_p): per row the running max m and sum l are updated, the scores become
// exp(s - m) (0 in the padding), and the accumulator row acc [rows, ld_acc] (acc_cols values)
// is rescaled by exp(m_old - m_new). Rows masked so far (m = -inf) get zero probabilities.
void online_softmax_block_f32(float* S, int64_t ld, int64_t rows, int64_t cols, int64_t cols_p,
                              float* m, float* l, float* acc, int64_t ld_acc, int64_t acc_cols);
}  // namespace kinema

namespace kinema {
// Contiguous bf16 <-> f32 rows (reference: the scalar conversions in kinema/dtype.hpp).
void bf16_to_f32_row(const uint16_t* src, float* dst, int64_t n);
void f32_to_bf16_row(const float* src, uint16_t* dst, int64_t n);
// n elements (a multiple of 32) of q8_0 or q4_0 blocks to f32 (reference: dequantize_row in
// core/quant.hpp, which gives the same bits).
void dequantize_row_f32(const uint8_t* blocks, float* dst, int64_t n, DType q);
}  // namespace kinema

namespace kinema {

// The optimizer's per-weight passes. AdamW with decoupled decay for one run of elements:
// c1, c2 are the bias corrections 1 - beta^t, decay = 1 - lr * weight_decay.
struct AdamWCoeffs {
  float b1, b2, c1, c2, decay, lr, eps;
};
void adamw_update_f32(float* p, const float* g, float* m, float* v, int64_t n, const AdamWCoeffs& k);
void adamw_update_f32_ref(float* p, const float* g, float* m, float* v, int64_t n, const AdamWCoeffs& k);
// e = decay * e + (1 - decay) * p
void ema_update_f32(float* e, const float* p, int64_t n, float decay);
void ema_update_f32_ref(float* e, const float* p, int64_t n, float decay);
// Sum of x^2 in double (the fast one in double lanes): only a NaN or Inf element, never a
// large finite one, makes it non-finite.
double squared_sum_f32(const float* x, int64_t n);
double squared_sum_f32_ref(const float* x, int64_t n);

}  // namespace kinema
