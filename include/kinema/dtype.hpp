// Element types. Compute types (f32, bf16, f16) hold one value per element; the block-quantized
// weight types (q8_0, q4_0) follow the GGUF layouts so GGUF files map without conversion:
//   q8_0: blocks of 32 values = f16 scale d + 32 x int8 q,          value = d * q      (34 bytes)
//   q4_0: blocks of 32 values = f16 scale d + 16 bytes of nibbles,   value = d * (q - 8) (18 bytes)
//         (low nibbles hold elements 0..15, high nibbles 16..31)
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace kinema {

enum class DType : uint8_t { f32, bf16, f16, q8_0, q4_0 };

inline constexpr int kQuantBlock = 32;

constexpr bool is_quantized(DType t) { return t == DType::q8_0 || t == DType::q4_0; }

// Bytes per block of block_elems(t) elements.
constexpr size_t block_bytes(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::q8_0: return 34;
    case DType::q4_0: return 18;
  }
  return 0;
}
constexpr int64_t block_elems(DType t) { return is_quantized(t) ? kQuantBlock : 1; }

std::string_view dtype_name(DType t);
DType dtype_from_name(std::string_view name);  // throws Error for unknown names

// bf16: the top 16 bits of an f32, rounded to nearest even (NaN stays NaN).
struct bf16_t {
  uint16_t bits;
};
struct f16_t {
  uint16_t bits;
};

inline float bf16_to_f32(bf16_t v) {
  uint32_t u = uint32_t(v.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline bf16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16_t{uint16_t((u >> 16) | 0x40)};  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16_t{uint16_t(u >> 16)};
}
float f16_to_f32(f16_t v);
f16_t f32_to_f16(float f);

}  // namespace kinema
