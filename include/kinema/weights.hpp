// Model weights users bring (issue 8): one loader over the formats published checkpoints use.
// Every reader validates the whole header against the file size before reading data, and a
// file that is not what it claims (truncated, lengths past the end, overflowing shapes,
// duplicate names, pickles that call anything but tensor rebuilds) is an Error that says what
// was found and what was expected. Tensors come back as kinema dtypes: f32, bf16, f16, q8_0
// and q4_0 unchanged; GGUF's other quantizations (q4_1, q5_0, q5_1, q4_K, q5_K, q6_K) are
// dequantized to `WeightLoadOptions::dequantize_to`.
#pragma once
#include <string>

#include "kinema/tensor_file.hpp"

namespace kinema {

struct WeightLoadOptions {
  DType dequantize_to = DType::bf16;  // f32 or bf16: for GGUF types kinema has no kernel for
  // safetensors (single and sharded) and GGUF tensors stored in a kinema dtype point into the
  // mapped file (kinema/tensor_file.hpp TensorMemory); dequantized GGUF tensors, .pth tensors,
  // tensors not element-aligned in their file and tensors converted later are their own copies.
  TensorMemory memory = TensorMemory::mapped;
};

// GGUF v2/v3 (ggml's format: magic "GGUF", version, tensor and key-value counts, typed
// key-values, tensor infos, aligned data). Key-values become metadata strings (arrays as JSON).
// GGUF lists dimensions innermost first; the returned shapes are outermost first, as PyTorch's.
TensorFile load_gguf(const std::string& path, const WeightLoadOptions& options = {});
// Writes f32, f16, bf16, q8_0 and q4_0 tensors (`kinema convert`); metadata as string values.
void save_gguf(const std::string& path, const TensorFile& file);

// PyTorch's zip checkpoints (.pth/.pt from torch.save): data.pkl is read by a restricted
// unpickler that knows tensor rebuilds, OrderedDict and plain containers and nothing else (it
// never imports or calls anything else); nested state dicts ("model", "state_dict", "module")
// are flattened with dotted names.
TensorFile load_pth(const std::string& path);

// Sharded safetensors: "model.safetensors.index.json" ({"weight_map": {name: shard file}})
// and its shards beside it; every name must come from the shard the index names.
TensorFile load_safetensors_index(const std::string& index_path, const TensorLoadOptions& options = {});

// A model's weights for another storage type: every matrix (2-D or more, inner dimension a
// multiple of 32) becomes `matrices` (f32, bf16, f16, q8_0 or q4_0); every other tensor f32.
// What `kinema convert` writes and `kinema generate --type` runs.
bool is_weight_matrix(const Tensor& t);
Tensor convert_weight(const Tensor& t, DType matrices);
TensorFile convert_weights(TensorFile file, DType matrices);

// Any of the above by content (magic bytes), not by file name; a directory means its
// *.safetensors.index.json, or its single weights file. The error for anything else says what
// the file looks like.
TensorFile load_weights(const std::string& path, const WeightLoadOptions& options = {});

}  // namespace kinema
