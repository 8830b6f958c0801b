#include "core/strided.hpp"

#include <cstring>

#include "backend/cpu/kernels.hpp"
#include "kinema/error.hpp"

namespace kinema {

size_t dtype_size(DType t) { return is_quantized(t) ? 0 : block_bytes(t); }

void load_f32_row(const uint8_t* src, DType dtype, int64_t stride, float* dst, int64_t n) {
  if (n <= 0) return;  // an empty tensor's data may be null, which memcpy may not be given
  switch (dtype) {
    case DType::f32: {
      const float* s = reinterpret_cast<const float*>(src);
      if (stride == 1) std::memcpy(dst, s, size_t(n) * 4);
      else for (int64_t i = 0; i < n; ++i) dst[i] = s[i * stride];
      return;
    }
    case DType::bf16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      if (stride == 1) return bf16_to_f32_row(s, dst, n);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(bf16_t{s[i * stride]});
      return;
    }
    case DType::f16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(f16_t{s[i * stride]});
      return;
    }
    default: fail("load", "cannot read ", dtype_name(dtype), " element-wise");
  }
}

void store_f32_row(const float* src, uint8_t* dst, DType dtype, int64_t n) {
  if (n <= 0) return;  // an empty tensor's data may be null, which memcpy may not be given
  switch (dtype) {
    case DType::f32: std::memcpy(dst, src, size_t(n) * 4); return;
    case DType::bf16: return f32_to_bf16_row(src, reinterpret_cast<uint16_t*>(dst), n);
    case DType::f16: {
      uint16_t* d = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]).bits;
      return;
    }
    default: fail("store", "cannot write ", dtype_name(dtype), " element-wise");
  }
}

void for_each_row(const Shape& shape, const std::vector<const Shape*>& strides,
                  const std::function<void(const int64_t*, int64_t)>& fn) {
  int nd = int(shape.size());
  size_t k = strides.size();
  int64_t rows = 1;
  for (int d = 0; d + 1 < nd; ++d) rows *= shape[d];
  if (nd == 0 || shape_numel(shape) == 0) {
    if (nd == 0) {
      std::vector<int64_t> zero(k, 0);
      fn(zero.data(), 0);
    }
    return;
  }
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0), off(k, 0);
  for (int64_t r = 0; r < rows; ++r) {
    fn(off.data(), r);
    for (int d = nd - 2; d >= 0; --d) {  // odometer over the outer dimensions
      ++idx[d];
      for (size_t j = 0; j < k; ++j) off[j] += (*strides[j])[d];
      if (idx[d] < shape[d]) break;
      for (size_t j = 0; j < k; ++j) off[j] -= (*strides[j])[d] * shape[d];
      idx[d] = 0;
    }
  }
}

void gather_to_f32(const Tensor& t, float* out) {
  if (t.ndim() == 0) {
    load_f32_row(t.raw_data(), t.dtype(), 1, out, 1);
    return;
  }
  int64_t inner = t.shape().back();
  int64_t inner_stride = t.strides().back();
  size_t es = dtype_size(t.dtype());
  const uint8_t* base = t.raw_data();
  for_each_row(t.shape(), {&t.strides()}, [&](const int64_t* off, int64_t row) {
    load_f32_row(base + off[0] * int64_t(es), t.dtype(), inner_stride, out + row * inner, inner);
  });
}

}  // namespace kinema
