// kinema's native tensor file: safetensors (an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and byte range, then the raw data). Readers of the
// format everywhere (Python, Rust, ggml tools) open what kinema writes.
#pragma once
#include <map>
#include <string>

#include "kinema/tensor.hpp"

namespace kinema {

struct TensorFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" string map
};

// f32, bf16 and f16 tensors; throws Error naming the tensor for anything else.
void save_tensors(const std::string& path, const TensorFile& file);
// Validates the header fully before reading data: sizes, offsets, dtypes, overlaps.
TensorFile load_tensors(const std::string& path);

}  // namespace kinema
