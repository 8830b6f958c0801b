// Scalar twins of the int8 linear kernels (backend/cpu/quant_int8.hpp): the activation
// quantizer and the GEMM, written as the formulas read, one output at a time.
#include <cmath>
#include <cstring>

#include "backend/cpu/quant_int8.hpp"
#include "core/quant.hpp"

namespace kinema {
namespace {

// One block of 32 values (already f32) -> q + 128 and its scale.
void quantize_block(const float* x, uint8_t* q, float* d) {
  float amax = 0.f;
  for (int j = 0; j < kQuantBlock; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float id = amax > 0.f ? 127.f / amax : 0.f;
  *d = amax / 127.f;
  for (int j = 0; j < kQuantBlock; ++j) {
    const float r = std::nearbyint(x[j] * id);  // round half to even (the default mode)
    const int v = r >= -127.f && r <= 127.f ? int(r) : 0;  // always in range for finite x
    q[j] = uint8_t(v + 128);
  }
}

float scale_at(const uint8_t* block) {
  f16_t h;
  std::memcpy(&h.bits, block, 2);
  return f16_to_f32(h);
}

// Weight row n's block b as 32 int8 values and its scale.
float weight_block(const Int8GemmDesc& d, int64_t n, int64_t b, int8_t* q) {
  const int64_t nb = d.k / kQuantBlock;
  const uint8_t* blk = d.w + (n * nb + b) * int64_t(block_bytes(d.wt));
  if (d.wt == DType::q8_0) {
    std::memcpy(q, blk + 2, kQuantBlock);
  } else {  // q4_0: low nibbles are elements 0..15, high nibbles 16..31, each minus 8
    for (int j = 0; j < kQuantBlock / 2; ++j) {
      q[j] = int8_t((blk[2 + j] & 15) - 8);
      q[j + kQuantBlock / 2] = int8_t((blk[2 + j] >> 4) - 8);
    }
  }
  return scale_at(blk);
}

}  // namespace

void quantize_act_q8_f32_ref(const float* x, uint8_t* q, float* d, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) quantize_block(x + b * kQuantBlock, q + b * kQuantBlock, d + b);
}

void quantize_act_q8_bf16_ref(const uint16_t* x, uint8_t* q, float* d, int64_t n) {
  float f[kQuantBlock];
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    for (int j = 0; j < kQuantBlock; ++j) f[j] = bf16_to_f32(bf16_t{x[b * kQuantBlock + j]});
    quantize_block(f, q + b * kQuantBlock, d + b);
  }
}

void int8_gemm_ref(const Int8GemmDesc& d, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const int64_t nb = d.k / kQuantBlock;
  int8_t wq[kQuantBlock];
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t m = m0; m < m1; ++m) {
      const uint8_t* xq = d.xq + m * d.k;
      float acc = 0.f;
      for (int64_t b = 0; b < nb; ++b) {
        const float wd = weight_block(d, n, b, wq);
        int32_t sum = 0;
        for (int j = 0; j < kQuantBlock; ++j) sum += (int32_t(xq[b * kQuantBlock + j]) - 128) * int32_t(wq[j]);
        acc = std::fma(float(sum), d.xd[m * nb + b] * wd, acc);  // |sum| < 2^24: exact in f32
      }
      d.y[m * d.ldy + n] = acc;
    }
}

}  // namespace kinema
