// Helpers to walk strided tensors row by row and to convert rows between dtypes.
// Kernels work on f32 rows; bf16/f16 data is widened into a row buffer and narrowed back.
#pragma once
#include <cstdint>
#include <functional>

#include "kinema/tensor.hpp"

namespace kinema {

void load_f32_row(const uint8_t* src, DType dtype, int64_t stride, float* dst, int64_t n);
void store_f32_row(const float* src, uint8_t* dst, DType dtype, int64_t n);  // contiguous dst

// Copies any (non-quantized) strided tensor into a contiguous f32 buffer.
void gather_to_f32(const Tensor& t, float* out);

// Calls fn(offsets, row_index) for every row of the innermost dimension of `shape`, where
// offsets[k] is the element offset of operand k for that row (given its strides).
// Rows are numbered 0..rows-1 in row-major order.
void for_each_row(const Shape& shape, const std::vector<const Shape*>& strides,
                  const std::function<void(const int64_t* offsets, int64_t row)>& fn);

size_t dtype_size(DType t);  // bytes per element (non-quantized)

}  // namespace kinema
