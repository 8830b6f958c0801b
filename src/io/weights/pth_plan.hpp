// PyTorch zip checkpoints, first half: from the archive and its data.pkl to a validated plan of
// named tensors (storage entry, dtype, shape, strides, offset) and metadata strings, plus the
// strided gather that materializes one tensor contiguously. Everything here is checked against
// the archive before a byte of tensor data is read: shapes and strides overflow-free, each
// view's extent inside its storage, storage sizes equal to what the pickle declares.
// No tensor types here: the libFuzzer target compiles this file on its own; pth.cpp turns the
// plan into kinema Tensors.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/weights/zip_reader.hpp"

namespace kinema::pth {

// The element types a torch storage can hold; only f32, f16, bf16 and f64 are loaded.
enum class Elem : uint8_t { f32, f16, bf16, f64, skipped };

struct TensorPlan {
  std::string name;        // dotted: "blocks.0.attn.q.weight"
  Elem elem = Elem::f32;
  int elem_size = 4;       // bytes per element in the storage
  std::string torch_dtype; // "float32", "int64", ...: for messages and skip notes
  const zip::Entry* storage = nullptr;
  std::vector<int64_t> shape, strides;  // outermost first; strides in elements
  int64_t offset = 0;                   // in elements from the start of the storage
  int64_t numel = 0;
  uint64_t first = 0, extent = 0;       // the storage elements [first, first + extent) it reads
};

struct Plan {
  std::vector<TensorPlan> tensors;  // loadable ones (elem != skipped)
  std::map<std::string, std::string> metadata;
  bool big_endian = false;  // the archive's "byteorder" entry
};

struct PlanLimits {
  int max_depth = 64;                          // container nesting in data.pkl
  uint64_t max_pickle_bytes = 64ull << 20;     // data.pkl (100k tensors take ~15 MiB)
  int64_t max_visits = int64_t(1) << 22;       // containers and values walked, shared ones again
  uint64_t max_text_bytes = 256ull << 20;      // names and metadata strings made
  size_t max_name_bytes = 4096;                // one dotted name
  int64_t max_repeat_elems = int64_t(1) << 28; // all views that repeat storage elements (stride 0)
};

// `where` is the file name for messages.
Plan make_plan(const zip::Archive& archive, const std::string& where, const PlanLimits& limits = {});

// Writes the tensor's numel elements contiguously (row-major, little-endian, still in the
// storage's element type) to dst, reading only its extent of the storage.
void read_contiguous(const zip::Archive& archive, const TensorPlan& t, bool big_endian, uint8_t* dst);

}  // namespace kinema::pth
