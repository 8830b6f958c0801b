// save_gguf: GGUF v3 with f32, f16, bf16, q8_0 and q4_0 tensors and string metadata, in the
// layout ggml itself writes (tensor data in name order, each aligned to 32 bytes), so
// llama.cpp/ggml tools open what kinema writes.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <vector>

#include "io/weights/gguf_format.hpp"
#include "io/weights/gguf_quants.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/weights.hpp"

namespace kinema {
namespace {

using gguf::GgmlType;

GgmlType ggml_type(DType t) {
  switch (t) {
    case DType::f32: return GgmlType::f32;
    case DType::f16: return GgmlType::f16;
    case DType::bf16: return GgmlType::bf16;
    case DType::q8_0: return GgmlType::q8_0;
    case DType::q4_0: return GgmlType::q4_0;
  }
  return GgmlType::f32;
}

class Writer {
 public:
  explicit Writer(std::ofstream& f) : f_(f) {}
  template <typename T>
  void scalar(T v) {
    f_.write(reinterpret_cast<const char*>(&v), sizeof v);
    pos_ += sizeof v;
  }
  void str(const std::string& s) {
    scalar<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void bytes(const void* p, uint64_t n) {
    f_.write(static_cast<const char*>(p), std::streamsize(n));
    pos_ += n;
  }
  void pad(uint64_t alignment) {
    static const char kZeros[64] = {};
    while (pos_ % alignment) bytes(kZeros, std::min<uint64_t>(alignment - pos_ % alignment, sizeof kZeros));
  }

 private:
  std::ofstream& f_;
  uint64_t pos_ = 0;
};

// The shape GGUF stores: the tensor's own, or for more than 4 dimensions [rest, last] (blocks
// stay whole along the last dimension), with the real shape under kOrigShapePrefix + name.
Shape stored_shape(const Tensor& t) {
  const Shape& s = t.shape();
  if (s.empty()) return {1};  // a scalar is one element: GGUF has no 0-d tensors
  if (s.size() <= gguf::kMaxDims) return s;
  return {shape_numel(Shape(s.begin(), s.end() - 1)), s.back()};
}

bool is_orig_shape_key(const std::string& key) { return key.rfind(gguf::kOrigShapePrefix, 0) == 0; }

uint64_t tensor_bytes(const Tensor& t) { return uint64_t(t.numel() / block_elems(t.dtype())) * block_bytes(t.dtype()); }

}  // namespace

void save_gguf(const std::string& path, const TensorFile& file) {
  constexpr uint64_t kAlign = gguf::kDefaultAlignment;
  for (const auto& [name, t] : file.tensors) {
    check(!name.empty() && name.size() <= gguf::kMaxNameBytes, "gguf", "cannot store tensor '", name,
          "': GGUF tensor names are 1 to ", gguf::kMaxNameBytes, " bytes (ggml's limit); got ", name.size());
    for (int64_t d : t.shape())
      check(d <= std::numeric_limits<int32_t>::max() || t.ndim() <= int(gguf::kMaxDims), "gguf", "cannot store tensor '",
            name, "' ", shape_str(t.shape()), ": its original shape is an i32 array");
  }
  // general.alignment and the original shapes are the writer's to set, typed as ggml and
  // ComfyUI-GGUF read them (u32, i32 array); the alignment stays the default.
  auto written = [](const std::string& key) { return key != "general.alignment" && !is_orig_shape_key(key); };
  uint64_t n_kv = 0;
  for (const auto& [key, value] : file.metadata) n_kv += written(key);
  for (const auto& [name, t] : file.tensors) n_kv += t.shape().size() > gguf::kMaxDims;

  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    check(bool(f), "gguf", "cannot write ", tmp);
    Writer w(f);
    w.scalar<uint32_t>(gguf::kMagic);
    w.scalar<uint32_t>(3);
    w.scalar<uint64_t>(file.tensors.size());
    w.scalar<uint64_t>(n_kv);
    for (const auto& [key, value] : file.metadata) {
      if (!written(key)) continue;
      w.str(key);
      w.scalar<uint32_t>(uint32_t(gguf::ValueType::string));
      w.str(value);
    }
    for (const auto& [name, t] : file.tensors) {
      if (t.shape().size() <= gguf::kMaxDims) continue;
      w.str(gguf::kOrigShapePrefix + name);
      w.scalar<uint32_t>(uint32_t(gguf::ValueType::array));
      w.scalar<uint32_t>(uint32_t(gguf::ValueType::i32));
      w.scalar<uint64_t>(t.shape().size());
      for (int64_t d : t.shape()) w.scalar<int32_t>(int32_t(d));
    }
    uint64_t offset = 0;
    for (const auto& [name, t] : file.tensors) {
      w.str(name);
      const Shape s = stored_shape(t);
      w.scalar<uint32_t>(uint32_t(s.size()));
      for (size_t d = s.size(); d-- > 0;) w.scalar<uint64_t>(uint64_t(s[d]));  // innermost first
      w.scalar<uint32_t>(uint32_t(ggml_type(t.dtype())));
      w.scalar<uint64_t>(offset);
      offset += (tensor_bytes(t) + kAlign - 1) / kAlign * kAlign;
    }
    w.pad(kAlign);
    for (const auto& [name, t] : file.tensors) {
      Tensor c = contiguous(t.detach());
      w.bytes(c.raw_data(), tensor_bytes(c));
      w.pad(kAlign);
    }
    f.flush();
    check(bool(f), "gguf", "write to ", tmp, " failed (disk full?)");
  }
  check(std::rename(tmp.c_str(), path.c_str()) == 0, "gguf", "cannot rename ", tmp, " to ", path);
}

}  // namespace kinema
