// convert_weights: the storage type of a model's matrices (kinema/weights.hpp).
#include "kinema/dtype.hpp"
#include "kinema/ops.hpp"
#include "kinema/weights.hpp"

namespace kinema {

bool is_weight_matrix(const Tensor& t) { return t.ndim() >= 2 && t.numel() > 0 && t.shape().back() % kQuantBlock == 0; }

Tensor convert_weight(const Tensor& t, DType matrices) {
  const DType want = is_weight_matrix(t) ? matrices : DType::f32;
  if (t.dtype() == want) return t;
  Tensor f32 = t.dtype() == DType::f32 ? t : cast(t, DType::f32);
  return want == DType::f32 ? f32 : cast(contiguous(f32), want);
}

TensorFile convert_weights(TensorFile file, DType matrices) {
  for (auto& [name, t] : file.tensors) t = convert_weight(t, matrices);
  return file;
}

}  // namespace kinema
