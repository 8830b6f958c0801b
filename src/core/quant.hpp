// Block quantization in the GGUF layouts (see kinema/dtype.hpp). Formulas follow the GGUF
// reference quantizers: q8_0 uses d = max|x| / 127, q = round(x / d); q4_0 uses the signed
// value m of largest magnitude, d = m / -8, q = clamp(trunc(x / d + 8.5), 0, 15).
#pragma once
#include <cstdint>

namespace kinema {

// n must be a multiple of 32.
void quantize_row(const float* x, uint8_t* blocks, int64_t n, int dtype_q);  // dtype_q: DType
void dequantize_row(const uint8_t* blocks, float* y, int64_t n, int dtype_q);

}  // namespace kinema
