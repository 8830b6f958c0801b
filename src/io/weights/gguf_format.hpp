// GGUF's container constants (ggml docs/gguf.md), shared by the reader and the writer.
// A file is: u32 magic "GGUF", u32 version, u64 tensor count, u64 key-value count, the
// key-values (string key, u32 value type, value), the tensor infos (string name, u32 n_dims,
// n_dims x u64 dims innermost first, u32 ggml type, u64 offset into the data section), padding
// to `general.alignment`, then the data section. Strings are a u64 length and the bytes (no
// terminator). All integers are little-endian.
#pragma once
#include <cstdint>

namespace kinema::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr uint64_t kMaxNameBytes = 63;  // GGML_MAX_NAME - 1: ggml rejects longer tensor names

// ComfyUI-GGUF's key for a tensor's real shape (an i32 array, outermost first) when the
// stored shape differs: more than 4 dimensions, or reshaped to suit a quantization.
constexpr const char* kOrigShapePrefix = "comfy.gguf.orig_shape.";

enum class ValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8,
  array = 9, u64 = 10, i64 = 11, f64 = 12,
};
constexpr uint32_t kValueTypeCount = 13;

}  // namespace kinema::gguf
