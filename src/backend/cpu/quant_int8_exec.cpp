// linear_int8: quantizes the activations on every thread, then splits the int8 GEMM over the
// context's threads, by columns (each thread repacks only its own columns of the weight) or,
// when there are too few columns to go round, by rows.
#include <algorithm>

#include "backend/cpu/exec.hpp"
#include "backend/cpu/quant_int8.hpp"
#include "kinema/tensor.hpp"

namespace kinema {
namespace {

// A pooled scratch buffer of at least `bytes` (64-byte aligned, as all storage is).
Tensor scratch_bytes(int64_t bytes) { return Tensor::empty({std::max<int64_t>(1, (bytes + 3) / 4)}, DType::f32); }

void quantize_rows(const void* x, DType xt, int64_t m, int64_t k, uint8_t* xq, float* xd, bool reference) {
  const int64_t nb = k / kQuantBlock;
  parallel_for(m, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      if (xt == DType::f32) {
        const float* row = static_cast<const float*>(x) + r * k;
        (reference ? quantize_act_q8_f32_ref : quantize_act_q8_f32)(row, xq + r * k, xd + r * nb, k);
      } else {
        const uint16_t* row = static_cast<const uint16_t*>(x) + r * k;
        (reference ? quantize_act_q8_bf16_ref : quantize_act_q8_bf16)(row, xq + r * k, xd + r * nb, k);
      }
    }
  });
}

}  // namespace

void linear_int8(const void* x, DType xt, int64_t m, int64_t k, const uint8_t* w, DType wt, int64_t n, float* y,
                 int64_t ldy, bool reference) {
  if (m <= 0 || n <= 0) return;
  if (k == 0) {  // an empty sum
    for (int64_t r = 0; r < m; ++r) std::fill(y + r * ldy, y + r * ldy + n, 0.f);
    return;
  }
  Tensor xq = scratch_bytes(m * k), xd = scratch_bytes(m * (k / kQuantBlock) * 4);
  Int8GemmDesc d;
  d.m = m, d.n = n, d.k = k;
  d.xq = static_cast<const uint8_t*>(xq.raw_data());
  d.xd = xd.data<float>();
  d.w = w, d.wt = wt, d.y = y, d.ldy = ldy;
  quantize_rows(x, xt, m, k, static_cast<uint8_t*>(xq.raw_data()), xd.data<float>(), reference);
  // Parts of the work, one per thread: column ranges (whole units of 32), or row ranges when
  // there are fewer than two units a thread and enough rows.
  const int64_t threads = current_context().threads();
  const int64_t units = (n + kInt8GemmCols - 1) / kInt8GemmCols;
  const bool by_rows = units < 2 * threads && m >= 12 * threads;
  const int64_t parts = std::max<int64_t>(1, std::min(threads, by_rows ? m : units));
  const int64_t per = int64_t(int8_gemm_scratch_bytes());
  Tensor scratch = scratch_bytes(per * parts);
  uint8_t* sp = static_cast<uint8_t*>(scratch.raw_data());
  parallel_for(parts, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      int64_t m0 = 0, m1 = m, n0 = 0, n1 = n;
      if (by_rows) m0 = m * c / parts, m1 = m * (c + 1) / parts;
      else n0 = units * c / parts * kInt8GemmCols, n1 = std::min(n, units * (c + 1) / parts * kInt8GemmCols);
      if (reference) int8_gemm_ref(d, m0, m1, n0, n1);
      else int8_gemm_vnni(d, m0, m1, n0, n1, sp + c * per);
    }
  });
}

}  // namespace kinema
