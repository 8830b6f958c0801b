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

// How loaded weights hold their data.
enum class TensorMemory {
  // Tensors point into the file, mapped (private, copy-on-write): loading costs page cache, not
  // the process's own memory, and is as fast as the header is to read. A tensor whose data is
  // not aligned to its element size in the file (safetensors does not promise alignment) is
  // copied instead. A file changed on disk while mapped is undefined (docs/weights.md).
  mapped,
  // Every tensor read into its own buffer (pread), as files on file systems without mmap need.
  read,
};

struct TensorLoadOptions {
  TensorMemory memory = TensorMemory::mapped;
};

// f32, bf16 and f16 tensors; throws Error naming the tensor for anything else. Writes NAME.tmp
// and renames it over NAME, so a mapping of the old file stays valid.
void save_tensors(const std::string& path, const TensorFile& file);
// Validates the header fully before touching data: sizes, offsets, dtypes, overlaps, all
// against the file's size when opened (a file shorter when mapped or read is an Error).
TensorFile load_tensors(const std::string& path, const TensorLoadOptions& options = {});

}  // namespace kinema
