#pragma once
#include <vector>

#include "kinema/tensor.hpp"

namespace kinema {

enum class ReduceKind { sum, max };
// Reduces the axes marked in `reduced` (one flag per axis); the result has the kept axes only
// and x's dtype, computed in f32.
Tensor run_reduce(const Tensor& x, const std::vector<bool>& reduced, ReduceKind kind);
Tensor as_f32_contiguous(const Tensor& x);  // x itself when already f32 and contiguous

}  // namespace kinema
