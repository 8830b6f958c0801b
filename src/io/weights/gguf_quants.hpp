// ggml's tensor types as GGUF stores them, and the dequantization of the block formats kinema
// has no kernel for. Block layouts follow ggml's `block_*` structs (GGUF spec, ggml-common.h);
// every field is little-endian, f16 scales are IEEE half.
//   q4_1  (32 values, 20 bytes): f16 d, f16 m, 16 bytes of nibbles          x = d*q + m
//   q5_0  (32 values, 22 bytes): f16 d, u32 qh (5th bits), 16 bytes nibbles x = d*(q - 16)
//   q5_1  (32 values, 24 bytes): f16 d, f16 m, u32 qh, 16 bytes nibbles      x = d*q + m
//         (nibble j's low half is element j, its high half element j+16; bit j of qh is
//          element j's 5th bit)
//   q4_K (256 values, 144 bytes): f16 d, f16 dmin, 12 bytes of 6-bit (scale, min) pairs for
//         8 sub-blocks of 32, 128 bytes of nibbles;      x = d*sc*q - dmin*m
//   q5_K (256 values, 176 bytes): as q4_K plus 32 bytes of 5th bits (before the nibbles)
//   q6_K (256 values, 210 bytes): 128 bytes low nibbles, 64 bytes of 2-bit highs, 16 int8
//         scales (one per 16 values), f16 d;              x = d*sc*(q - 32)
#pragma once
#include <cstdint>
#include <string>

namespace kinema::gguf {

// ggml_type ids (ggml.h); the gaps are types ggml removed.
enum class GgmlType : uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
  q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15,
  bf16 = 30,
};

struct TypeInfo {
  const char* name;      // ggml's name ("q4_K"), or nullptr for an id ggml never had
  int64_t block_elems;   // values per block (1 for f32/f16/bf16)
  int64_t block_bytes;   // bytes per block
  bool readable;         // kinema reads it (unchanged or dequantized)
};

// Everything ggml knows by id up to the newest types, so an error can name what it found.
TypeInfo type_info(uint32_t type);

// Dequantizes n values (a multiple of type_info(t).block_elems) of a type kinema stores as f32
// or bf16 instead: q4_1, q5_0, q5_1, q4_K, q5_K, q6_K. `blocks` holds n / block_elems blocks.
void dequantize(GgmlType t, const uint8_t* blocks, float* out, int64_t n);
bool needs_dequantize(GgmlType t);

}  // namespace kinema::gguf
