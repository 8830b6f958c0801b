// matmul's forward (no autograd) with an f32 result whatever the operands: bf16 operands run
// bf16 dot products and write f32 (oneDNN bf16:bf16:f32), with no bf16 rounding of the output;
// an f32 bias [n] is added to every row in the same pass (oneDNN's bias).
#pragma once
#include "kinema/tensor.hpp"

namespace kinema {
Tensor matmul_f32_out(const Tensor& a, const Tensor& b, const Tensor& bias = {});
}  // namespace kinema
