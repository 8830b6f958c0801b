// CPU kernels. Each fast kernel has a reference twin with the same signature in ref/
// (suffix _ref); the dispatch functions in the exec files pick one by the context's switch.
// Kernels may assume valid input: ops validate before calling them.
#pragma once
#include <cstdint>

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
