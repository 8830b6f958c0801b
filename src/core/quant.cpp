#include "core/quant.hpp"

#include <cmath>
#include <cstring>

#include "kinema/dtype.hpp"

namespace kinema {
namespace {

void put_f16(uint8_t* p, float v) {
  f16_t h = f32_to_f16(v);
  std::memcpy(p, &h.bits, 2);
}
float get_f16(const uint8_t* p) {
  f16_t h;
  std::memcpy(&h.bits, p, 2);
  return f16_to_f32(h);
}

void quantize_q8_0(const float* x, uint8_t* b) {
  float amax = 0;
  for (int i = 0; i < kQuantBlock; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  float d = amax / 127.f;
  float id = d != 0 ? 1.f / d : 0.f;
  put_f16(b, d);
  for (int i = 0; i < kQuantBlock; ++i) b[2 + i] = uint8_t(int8_t(std::lround(x[i] * id)));
}

void quantize_q4_0(const float* x, uint8_t* b) {
  float amax = 0, m = 0;
  for (int i = 0; i < kQuantBlock; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      m = x[i];
    }
  float d = m / -8.f;
  float id = d != 0 ? 1.f / d : 0.f;
  put_f16(b, d);
  for (int i = 0; i < kQuantBlock / 2; ++i) {
    int lo = int(x[i] * id + 8.5f), hi = int(x[i + 16] * id + 8.5f);
    lo = lo < 0 ? 0 : lo > 15 ? 15 : lo;
    hi = hi < 0 ? 0 : hi > 15 ? 15 : hi;
    b[2 + i] = uint8_t(lo | hi << 4);
  }
}

}  // namespace

void quantize_row(const float* x, uint8_t* blocks, int64_t n, int dtype_q) {
  DType t = DType(dtype_q);
  for (int64_t i = 0; i < n / kQuantBlock; ++i) {
    if (t == DType::q8_0) quantize_q8_0(x + i * kQuantBlock, blocks + i * 34);
    else quantize_q4_0(x + i * kQuantBlock, blocks + i * 18);
  }
}

void dequantize_row(const uint8_t* blocks, float* y, int64_t n, int dtype_q) {
  DType t = DType(dtype_q);
  for (int64_t i = 0; i < n / kQuantBlock; ++i) {
    float* o = y + i * kQuantBlock;
    if (t == DType::q8_0) {
      const uint8_t* b = blocks + i * 34;
      float d = get_f16(b);
      for (int j = 0; j < kQuantBlock; ++j) o[j] = d * float(int8_t(b[2 + j]));
    } else {
      const uint8_t* b = blocks + i * 18;
      float d = get_f16(b);
      for (int j = 0; j < kQuantBlock / 2; ++j) {
        o[j] = d * float(int(b[2 + j] & 15) - 8);
        o[j + 16] = d * float(int(b[2 + j] >> 4) - 8);
      }
    }
  }
}

}  // namespace kinema
