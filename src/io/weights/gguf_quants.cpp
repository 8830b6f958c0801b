#include "io/weights/gguf_quants.hpp"

#include <cstring>

#include "kinema/dtype.hpp"
#include "kinema/error.hpp"

// The dequantization formulas are compared exactly with an independent numpy oracle
// (tests/io/gguf_reference.py), which rounds after every multiply and add: keep the compiler
// from fusing them into FMAs.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace kinema::gguf {
namespace {

float half(const uint8_t* p) {
  f16_t h;
  std::memcpy(&h.bits, p, 2);  // little-endian host, as the rest of kinema's I/O
  return f16_to_f32(h);
}
uint32_t u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// q4_1, q5_0, q5_1: 32 values. `lo`/`hi` are the 4-bit values of elements j and j+16; `qh`
// adds a 5th bit (bit j for element j) when the type has one.
void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = half(b), m = half(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = float(qs[j] & 15) * d + m;
    y[j + 16] = float(qs[j] >> 4) * d + m;
  }
}
void dequant_q5(const uint8_t* b, float* y, bool has_min) {
  const float d = half(b), m = has_min ? half(b + 2) : 0.f;
  const uint8_t* p = b + (has_min ? 4 : 2);
  const uint32_t qh = u32(p);
  const uint8_t* qs = p + 4;
  const int offset = has_min ? 0 : 16;  // q5_0 is symmetric around 16
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 15) | int((qh >> j) & 1) << 4;
    int hi = (qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
    if (has_min) {
      y[j] = float(lo) * d + m;
      y[j + 16] = float(hi) * d + m;
    } else {
      y[j] = float(lo - offset) * d;
      y[j + 16] = float(hi - offset) * d;
    }
  }
}

// K-quants' 12 bytes of scales: 8 sub-blocks, each a 6-bit scale and a 6-bit min. Sub-blocks
// 0..3 use the low 6 bits of bytes 0..3 (scale) and 4..7 (min); sub-blocks 4..7 take their low
// 4 bits from bytes 8..11 (scale: low nibble, min: high nibble) and their top 2 bits from the
// spare top bits of bytes 0..3 (scale) and 4..7 (min).
void scale_min(const uint8_t* s, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
    *mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
  }
}

// q4_K / q5_K: 256 values in 4 groups of 64; group g uses sub-blocks 2g (low nibbles of 32
// bytes) and 2g+1 (high nibbles of the same bytes). q5_K's 5th bit of element l of sub-block
// s is bit s of qh[l].
void dequant_k45(const uint8_t* b, float* y, bool five_bits) {
  const float d = half(b), dmin = half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + (five_bits ? 48 : 16);
  for (int g = 0; g < 4; ++g) {
    for (int half_ = 0; half_ < 2; ++half_) {
      const int s = 2 * g + half_;
      int sc, mn;
      scale_min(scales, s, &sc, &mn);
      const float ds = d * float(sc), ms = dmin * float(mn);
      for (int l = 0; l < 32; ++l) {
        int q = half_ ? qs[32 * g + l] >> 4 : qs[32 * g + l] & 15;
        if (five_bits) q += ((qh[l] >> s) & 1) << 4;
        y[64 * g + 32 * half_ + l] = ds * float(q) - ms;
      }
    }
  }
}

// q6_K: 256 values in 2 halves of 128. In half h, element 32*k + l (k = 0..3, l = 0..31) takes
// its low 4 bits from ql[64h + l + 32*(k & 1)] (low nibble for k < 2, high for k >= 2) and its
// top 2 bits from bits 2k..2k+1 of qh[32h + l]; its scale is scales[8h + 2k + l/16].
void dequant_q6_K(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half(b + 208);
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) {
        const uint8_t low = ql[64 * h + l + 32 * (k & 1)];
        int q = (k < 2 ? low & 15 : low >> 4) | ((qh[32 * h + l] >> (2 * k)) & 3) << 4;
        y[128 * h + 32 * k + l] = d * float(scales[8 * h + 2 * k + l / 16]) * float(q - 32);
      }
}

}  // namespace

TypeInfo type_info(uint32_t type) {
  // ggml.c's type_traits, by id (names as ggml prints them).
  static const char* const kNames[] = {
      "f32", "f16", "q4_0", "q4_1", nullptr, nullptr, "q5_0", "q5_1", "q8_0", "q8_1",
      "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s",
      "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64", "iq1_m",
      "bf16", nullptr, nullptr, nullptr, "tq1_0", "tq2_0", nullptr, nullptr, nullptr, "mxfp4"};
  TypeInfo info{type < std::size(kNames) ? kNames[type] : nullptr, 1, 0, false};
  switch (GgmlType(type)) {
    case GgmlType::f32: return {info.name, 1, 4, true};
    case GgmlType::f16: return {info.name, 1, 2, true};
    case GgmlType::bf16: return {info.name, 1, 2, true};
    case GgmlType::q4_0: return {info.name, 32, 18, true};
    case GgmlType::q8_0: return {info.name, 32, 34, true};
    case GgmlType::q4_1: return {info.name, 32, 20, true};
    case GgmlType::q5_0: return {info.name, 32, 22, true};
    case GgmlType::q5_1: return {info.name, 32, 24, true};
    case GgmlType::q4_K: return {info.name, 256, 144, true};
    case GgmlType::q5_K: return {info.name, 256, 176, true};
    case GgmlType::q6_K: return {info.name, 256, 210, true};
    default: return info;
  }
}

bool needs_dequantize(GgmlType t) {
  switch (t) {
    case GgmlType::q4_1: case GgmlType::q5_0: case GgmlType::q5_1:
    case GgmlType::q4_K: case GgmlType::q5_K: case GgmlType::q6_K: return true;
    default: return false;
  }
}

void dequantize(GgmlType t, const uint8_t* blocks, float* out, int64_t n) {
  const TypeInfo info = type_info(uint32_t(t));
  KINEMA_CHECK(needs_dequantize(t) && n % info.block_elems == 0, "gguf", "cannot dequantize ", n,
               " values of type ", info.name ? info.name : "?");
  for (int64_t i = 0; i < n / info.block_elems; ++i) {
    const uint8_t* b = blocks + i * info.block_bytes;
    float* y = out + i * info.block_elems;
    switch (t) {
      case GgmlType::q4_1: dequant_q4_1(b, y); break;
      case GgmlType::q5_0: dequant_q5(b, y, false); break;
      case GgmlType::q5_1: dequant_q5(b, y, true); break;
      case GgmlType::q4_K: dequant_k45(b, y, false); break;
      case GgmlType::q5_K: dequant_k45(b, y, true); break;
      case GgmlType::q6_K: dequant_q6_K(b, y); break;
      default: break;
    }
  }
}

}  // namespace kinema::gguf
