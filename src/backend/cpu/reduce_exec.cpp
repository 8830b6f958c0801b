#include "backend/cpu/exec.hpp"
#include "backend/cpu/reduce_exec.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"

namespace kinema {

Tensor as_f32_contiguous(const Tensor& x) {
  if (x.dtype() == DType::f32 && x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), DType::f32);
  copy_into(x, out);
  return out;
}

Tensor run_reduce(const Tensor& x, const std::vector<bool>& reduced, ReduceKind kind) {
  int nd = x.ndim();
  Shape kept_shape;
  std::vector<int> kept, red;
  int64_t rows = 1, len = 1;
  for (int i = 0; i < nd; ++i) {
    if (reduced[size_t(i)]) {
      red.push_back(i);
      len *= x.shape()[size_t(i)];
    } else {
      kept.push_back(i);
      kept_shape.push_back(x.shape()[size_t(i)]);
      rows *= x.shape()[size_t(i)];
    }
  }
  bool ref = current_context().reference_kernels();
  Tensor out = Tensor::empty(kept_shape, DType::f32);
  float* o = out.data<float>();
  bool leading = !red.empty() && red.back() == int(red.size()) - 1;
  if (kind == ReduceKind::sum && leading && x.is_contiguous() && x.dtype() == DType::f32) {
    const float* p = x.data<float>();
    auto k = ref ? sum_cols_f32_ref : sum_cols_f32;
    // x is [len, rows]: each thread sums its own block of columns over every leading row
    parallel_for(rows, 64, [&](int64_t b, int64_t e) { k(p + b, len, e - b, rows, o + b); });
    return cast(out, x.dtype());
  }
  std::vector<int> order = kept;
  order.insert(order.end(), red.begin(), red.end());
  Tensor src = as_f32_contiguous(x.ndim() ? permute(x.detach(), order) : x.detach());
  const float* p = src.data<float>();
  parallel_for(rows, 1, [&](int64_t b, int64_t e) {
    const float* rp = p + b * len;
    if (kind == ReduceKind::sum) (ref ? sum_rows_f32_ref : sum_rows_f32)(rp, e - b, len, o + b);
    else (ref ? max_rows_f32_ref : max_rows_f32)(rp, e - b, len, o + b);
  });
  return cast(out, x.dtype());
}

}  // namespace kinema
