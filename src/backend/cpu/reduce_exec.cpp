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
  // Reduced dims that form one block [first, last] of a contiguous x: view it as
  // [outer, len, inner] and add rows of inner values, with no transposed copy (a bias or
  // modulation gradient in bf16 compute is widened in place: the permuted copy below cost 5%
  // of a default-model training step).
  const bool block = !red.empty() && red.back() - red.front() == int(red.size()) - 1;
  if (kind == ReduceKind::sum && block && red.back() < nd - 1 && x.is_contiguous()) {
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < red.front(); ++i) outer *= x.shape()[size_t(i)];
    for (int i = red.back() + 1; i < nd; ++i) inner *= x.shape()[size_t(i)];
    const Tensor xf = as_f32_contiguous(x);
    const float* p = xf.data<float>();
    auto k = ref ? sum_cols_f32_ref : sum_cols_f32;
    // each thread sums its own block of columns of one outer slice over every reduced row
    for (int64_t s = 0; s < outer; ++s)
      parallel_for(inner, 64, [&](int64_t b, int64_t e) {
        k(p + s * len * inner + b, len, e - b, inner, o + s * inner + b);
      });
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
