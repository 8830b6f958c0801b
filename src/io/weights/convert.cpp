// convert_weights: the storage type of a model's matrices (kinema/weights.hpp).
#include "core/mapped_file.hpp"
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

// Tensor by tensor: each converted copy replaces its source at once, and a source on a mapped
// file has its pages dropped from the process (they were read once, for the conversion), so
// the peak is the converted model plus one tensor's f32 intermediate, not source + result
// (bench_convert_load: a Wan2.1-1.3B bf16 DiT to q8_0).
TensorFile convert_weights(TensorFile file, DType matrices) {
  for (auto& [name, t] : file.tensors) {
    Tensor source = std::move(t);
    t = convert_weight(source, matrices);
    if (t.storage() != source.storage()) release_mapped_pages(source);
  }
  return file;
}

}  // namespace kinema
