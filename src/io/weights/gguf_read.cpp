// load_gguf: GGUF v2/v3. The whole header (every count, length, shape, type and offset) is
// validated against the file's size before any tensor memory is allocated, so a hostile file
// costs at most what its own bytes justify; see docs/weights.md.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "core/mapped_file.hpp"
#include "core/quant.hpp"
#include "io/weights/gguf_format.hpp"
#include "io/weights/gguf_quants.hpp"
#include "kinema/error.hpp"
#include "kinema/weights.hpp"

namespace kinema {
namespace {

using gguf::GgmlType;
using gguf::ValueType;

constexpr int kMaxArrayDepth = 4;  // arrays of arrays: the spec allows them; nothing uses deeper

// Sequential reads of the header. Every length is checked against the bytes left before a
// buffer is sized from it; `context` (the key or tensor being read) goes into every error.
class HeaderReader {
 public:
  HeaderReader(std::ifstream& f, uint64_t size, const std::string& path)
      : f_(f), size_(size), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  std::string context;

  void need(uint64_t n, const char* what) const {
    if (n > left())
      fail("gguf", path_, ": ", context, what, " at byte ", pos_, " needs ", n, " bytes but only ",
           left(), " are left in the ", size_, "-byte file; the file is truncated or the length is wrong");
  }
  void read(void* dst, uint64_t n, const char* what) {
    need(n, what);
    f_.read(static_cast<char*>(dst), std::streamsize(n));
    KINEMA_CHECK(bool(f_), "gguf", path_, ": read error at byte ", pos_);
    pos_ += n;
  }
  template <typename T>
  T scalar(const char* what) {
    T v;
    read(&v, sizeof v, what);  // little-endian host, as the format
    return v;
  }
  std::string str(const char* what) {
    uint64_t n = scalar<uint64_t>(what);
    need(n, what);
    std::string s(size_t(n), '\0');
    read(s.data(), n, what);
    return s;
  }

 private:
  std::ifstream& f_;
  uint64_t size_, pos_ = 0;
  std::string path_;
};

// The fewest bytes one value of a type can take, to bound an array's count by the file.
uint64_t min_value_bytes(ValueType t) {
  switch (t) {
    case ValueType::u8: case ValueType::i8: case ValueType::boolean: return 1;
    case ValueType::u16: case ValueType::i16: return 2;
    case ValueType::u32: case ValueType::i32: case ValueType::f32: return 4;
    case ValueType::u64: case ValueType::i64: case ValueType::f64: case ValueType::string: return 8;
    case ValueType::array: return 12;  // element type + count
  }
  return 1;
}

ValueType value_type(HeaderReader& r, uint32_t t) {
  if (t >= gguf::kValueTypeCount)
    fail("gguf", r.path(), ": ", r.context, "has value type ", t, " at byte ", r.pos() - 4,
         "; expected 0..12 (u8, i8, u16, i16, u32, i32, f32, bool, string, array, u64, i64, f64)");
  return ValueType(t);
}

std::string float_text(double v, int digits) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char b[40];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One value as text. Strings come back raw unless `as_json` (inside arrays); arrays as JSON,
// with non-finite floats as null.
std::string value_text(HeaderReader& r, ValueType t, bool as_json, int depth) {
  switch (t) {
    case ValueType::u8: return std::to_string(r.scalar<uint8_t>("u8 value"));
    case ValueType::i8: return std::to_string(r.scalar<int8_t>("i8 value"));
    case ValueType::u16: return std::to_string(r.scalar<uint16_t>("u16 value"));
    case ValueType::i16: return std::to_string(r.scalar<int16_t>("i16 value"));
    case ValueType::u32: return std::to_string(r.scalar<uint32_t>("u32 value"));
    case ValueType::i32: return std::to_string(r.scalar<int32_t>("i32 value"));
    case ValueType::u64: return std::to_string(r.scalar<uint64_t>("u64 value"));
    case ValueType::i64: return std::to_string(r.scalar<int64_t>("i64 value"));
    case ValueType::boolean: return r.scalar<uint8_t>("bool value") ? "true" : "false";
    case ValueType::f32: case ValueType::f64: {
      double v = t == ValueType::f32 ? r.scalar<float>("f32 value") : r.scalar<double>("f64 value");
      return as_json && !std::isfinite(v) ? "null" : float_text(v, t == ValueType::f32 ? 9 : 17);
    }
    case ValueType::string: {
      std::string s = r.str("string");
      return as_json ? json_string(s) : s;
    }
    case ValueType::array: {
      KINEMA_CHECK(depth < kMaxArrayDepth, "gguf", r.path(), ": ", r.context, "nests arrays deeper than ",
                   kMaxArrayDepth, " levels");
      ValueType et = value_type(r, r.scalar<uint32_t>("array element type"));
      uint64_t n = r.scalar<uint64_t>("array length");
      if (n > r.left() / min_value_bytes(et))
        fail("gguf", r.path(), ": ", r.context, "array of ", n, " elements at byte ", r.pos() - 8,
             " cannot fit in the ", r.left(), " bytes left in the file");
      std::string out = "[";
      for (uint64_t i = 0; i < n; ++i) {
        if (i) out += ',';
        out += value_text(r, et, true, depth + 1);
      }
      return out + "]";
    }
  }
  return {};
}

// Key-values into metadata strings; general.alignment is returned separately, checked.
uint32_t read_metadata(HeaderReader& r, uint64_t n_kv, TensorFile& out) {
  uint32_t alignment = gguf::kDefaultAlignment;
  for (uint64_t i = 0; i < n_kv; ++i) {
    r.context = "key-value " + std::to_string(i) + ": ";
    std::string key = r.str("key");
    r.context = "key '" + key + "': ";
    KINEMA_CHECK(!out.metadata.count(key), "gguf", r.path(), ": key '", key, "' appears twice");
    ValueType t = value_type(r, r.scalar<uint32_t>("value type"));
    if (key == "general.alignment") {
      KINEMA_CHECK(t == ValueType::u32, "gguf", r.path(), ": general.alignment must be a u32; got value type ",
                   uint32_t(t));
      alignment = r.scalar<uint32_t>("u32 value");
      KINEMA_CHECK(alignment != 0 && (alignment & (alignment - 1)) == 0, "gguf", r.path(),
                   ": general.alignment is ", alignment, "; expected a power of two");
      out.metadata[key] = std::to_string(alignment);
      continue;
    }
    out.metadata[key] = value_text(r, t, false, 0);
  }
  r.context.clear();
  return alignment;
}

struct TensorInfo {
  std::string name;
  Shape shape;      // outermost first, as stored
  Shape out_shape;  // as returned: `shape`, or its comfy.gguf.orig_shape
  GgmlType type;
  int64_t numel = 0;
  uint64_t offset = 0, bytes = 0;
};

std::string type_text(uint32_t type) {
  gguf::TypeInfo info = gguf::type_info(type);
  return info.name ? std::string(info.name) + " (ggml type " + std::to_string(type) + ")"
                   : "unknown ggml type " + std::to_string(type);
}

TensorInfo read_tensor_info(HeaderReader& r, uint64_t index) {
  TensorInfo t;
  r.context = "tensor info " + std::to_string(index) + ": ";
  t.name = r.str("name");
  KINEMA_CHECK(!t.name.empty(), "gguf", r.path(), ": tensor ", index, " has an empty name");
  r.context = "tensor '" + t.name + "': ";
  uint32_t n_dims = r.scalar<uint32_t>("n_dims");
  KINEMA_CHECK(n_dims >= 1 && n_dims <= gguf::kMaxDims, "gguf", r.path(), ": tensor '", t.name, "' has ",
               n_dims, " dimensions; expected 1 to ", gguf::kMaxDims);
  uint64_t ne[gguf::kMaxDims];
  uint64_t product = 1;  // of the nonzero dims: a shape must fit int64 even when empty
  for (uint32_t d = 0; d < n_dims; ++d) {
    ne[d] = r.scalar<uint64_t>("dimension");
    uint64_t x = std::max<uint64_t>(ne[d], 1);
    if (ne[d] > uint64_t(std::numeric_limits<int64_t>::max()) ||
        product > uint64_t(std::numeric_limits<int64_t>::max()) / x)
      fail("gguf", r.path(), ": tensor '", t.name, "' has dimensions whose element count overflows int64 (dim ",
           d, " is ", ne[d], ")");
    product *= x;
  }
  for (uint32_t d = n_dims; d-- > 0;) t.shape.push_back(int64_t(ne[d]));
  t.numel = shape_numel(t.shape);
  uint32_t type = r.scalar<uint32_t>("type");
  gguf::TypeInfo info = gguf::type_info(type);
  if (!info.readable)
    fail("gguf", r.path(), ": tensor '", t.name, "' has type ", type_text(type),
         ", which kinema does not read; it reads f32, f16, bf16, q8_0, q4_0 and dequantizes "
         "q4_1, q5_0, q5_1, q4_K, q5_K and q6_K");
  t.type = GgmlType(type);
  KINEMA_CHECK(int64_t(ne[0]) % info.block_elems == 0, "gguf", r.path(), ": tensor '", t.name, "' of type ",
               info.name, " has inner dimension ", ne[0], "; expected a multiple of its block of ",
               info.block_elems);
  uint64_t blocks = uint64_t(t.numel / info.block_elems);
  KINEMA_CHECK(blocks <= r.size() / uint64_t(info.block_bytes), "gguf", r.path(), ": tensor '", t.name,
               "' ", shape_str(t.shape), " of type ", info.name, " needs more bytes than the whole ",
               r.size(), "-byte file");
  t.bytes = blocks * uint64_t(info.block_bytes);
  t.offset = r.scalar<uint64_t>("offset");
  return t;
}

// Places every tensor in the data section: aligned, inside the file, not overlapping.
void check_layout(const HeaderReader& r, std::vector<TensorInfo>& infos, uint64_t data_start,
                  uint32_t alignment) {
  const uint64_t data_size = r.size() - data_start;
  std::vector<std::pair<uint64_t, const TensorInfo*>> ranges;
  for (const TensorInfo& t : infos) {
    KINEMA_CHECK(t.offset % alignment == 0, "gguf", r.path(), ": tensor '", t.name, "' has offset ", t.offset,
                 ", not a multiple of the alignment ", alignment);
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      fail("gguf", r.path(), ": tensor '", t.name, "' ", shape_str(t.shape), " needs ", t.bytes,
           " bytes at data offset ", t.offset, ", but the data section holds ", data_size, " bytes (from byte ",
           data_start, "); the file is truncated or the offset is wrong");
    if (t.bytes) ranges.push_back({t.offset, &t});
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    const TensorInfo& a = *ranges[i - 1].second;
    KINEMA_CHECK(ranges[i].first >= a.offset + a.bytes, "gguf", r.path(), ": tensors '", a.name, "' and '",
                 ranges[i].second->name, "' overlap in the data section");
  }
}

// ComfyUI-GGUF's convention for tensors GGUF cannot shape (more than 4 dimensions, or
// reshaped for quantization): the data stays as stored and "comfy.gguf.orig_shape.NAME" (an
// integer array, outermost first) gives the real shape. The key is consumed, not returned.
void apply_orig_shapes(const std::string& path, std::vector<TensorInfo>& infos, TensorFile& out) {
  for (TensorInfo& t : infos) {
    t.out_shape = t.shape;
    auto it = out.metadata.find(std::string(gguf::kOrigShapePrefix) + t.name);
    if (it == out.metadata.end()) continue;
    nlohmann::json dims = nlohmann::json::parse(it->second, nullptr, false);
    Shape s;
    bool ok = dims.is_array() && !dims.empty() && dims.size() <= 8;
    for (size_t i = 0; ok && i < dims.size(); ++i) {
      ok = dims[i].is_number_integer() && dims[i].get<int64_t>() >= 0;
      if (ok) s.push_back(dims[i].get<int64_t>());
    }
    uint64_t product = 1;  // of nonzero dims, overflow-checked as in read_tensor_info
    for (size_t i = 0; ok && i < s.size(); ++i) {
      uint64_t x = std::max<int64_t>(s[i], 1);
      ok = product <= uint64_t(std::numeric_limits<int64_t>::max()) / x;
      product *= x;
    }
    if (!ok || shape_numel(s) != t.numel)
      fail("gguf", path, ": ", it->first, " is ", it->second.substr(0, 200), "; expected 1 to 8 dimensions holding the ",
           t.numel, " elements of tensor '", t.name, "' ", shape_str(t.shape));
    t.out_shape = s;
    out.metadata.erase(it);
  }
}

DType kinema_dtype(GgmlType t, DType dequantized) {
  switch (t) {
    case GgmlType::f32: return DType::f32;
    case GgmlType::f16: return DType::f16;
    case GgmlType::bf16: return DType::bf16;
    case GgmlType::q8_0: return DType::q8_0;
    case GgmlType::q4_0: return DType::q4_0;
    default: return dequantized;
  }
}

void read_tensor(std::ifstream& f, const std::string& path, uint64_t data_start, const TensorInfo& info,
                 Tensor& out) {
  f.seekg(std::streamoff(data_start + info.offset));
  if (!gguf::needs_dequantize(info.type) && out.dtype() == kinema_dtype(info.type, DType::f32)) {
    f.read(reinterpret_cast<char*>(out.raw_data()), std::streamsize(info.bytes));
    KINEMA_CHECK(bool(f), "gguf", path, ": could not read tensor '", info.name, "'");
    return;
  }
  // Chunks of whole blocks: the raw bytes never need a second tensor-sized buffer.
  const gguf::TypeInfo ti = gguf::type_info(uint32_t(info.type));
  const int64_t chunk_blocks = std::max<int64_t>(1, (int64_t(4) << 20) / ti.block_bytes);
  const int64_t total_blocks = info.numel / ti.block_elems;
  std::vector<uint8_t> raw(size_t(std::min(chunk_blocks, total_blocks) * ti.block_bytes));
  std::vector<float> values(out.dtype() == DType::f32 ? 0 : size_t(std::min(chunk_blocks, total_blocks) * ti.block_elems));
  for (int64_t b = 0; b < total_blocks; b += chunk_blocks) {
    const int64_t nb = std::min(chunk_blocks, total_blocks - b), n = nb * ti.block_elems;
    f.read(reinterpret_cast<char*>(raw.data()), std::streamsize(nb * ti.block_bytes));
    KINEMA_CHECK(bool(f), "gguf", path, ": could not read tensor '", info.name, "'");
    float* dst32 = out.dtype() == DType::f32 ? out.data<float>() + b * ti.block_elems : values.data();
    if (info.type == GgmlType::q8_0 || info.type == GgmlType::q4_0)  // reshaped off its blocks
      dequantize_row(raw.data(), dst32, n, int(kinema_dtype(info.type, DType::f32)));
    else
      gguf::dequantize(info.type, raw.data(), dst32, n);
    if (out.dtype() != DType::f32) {
      bf16_t* dst = out.data<bf16_t>() + b * ti.block_elems;
      for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(values[size_t(i)]);
    }
  }
}

}  // namespace

TensorFile load_gguf(const std::string& path, const WeightLoadOptions& options) {
  check(options.dequantize_to == DType::f32 || options.dequantize_to == DType::bf16, "gguf",
        "WeightLoadOptions::dequantize_to must be f32 or bf16; got ", dtype_name(options.dequantize_to));
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  check(bool(f), "gguf", "cannot open ", path);
  const std::streamoff end = f.tellg();
  check(end >= 0, "gguf", "cannot read ", path, " (a directory?)");
  HeaderReader r(f, uint64_t(end), path);
  f.seekg(0);
  r.context = "header: ";
  uint32_t magic = r.scalar<uint32_t>("magic");
  check(magic == gguf::kMagic, "gguf", path, " is not a GGUF file (its first 4 bytes are not \"GGUF\")");
  uint32_t version = r.scalar<uint32_t>("version");
  check(version != 1, "gguf", path, " is GGUF v1 (32-bit counts), which kinema does not read; "
        "re-save it with a current ggml or llama.cpp (v3)");
  check(version != 0x02000000 && version != 0x03000000, "gguf", path,
        " is a big-endian GGUF; kinema reads little-endian GGUF only");
  check(version == 2 || version == 3, "gguf", path, " has GGUF version ", version, "; expected 2 or 3");
  uint64_t n_tensors = r.scalar<uint64_t>("tensor count");
  uint64_t n_kv = r.scalar<uint64_t>("key-value count");
  // A tensor info takes at least 32 bytes and a key-value 13: bound the counts by the file.
  check(n_tensors <= r.left() / 32, "gguf", path, ": header claims ", n_tensors, " tensors but the ",
        r.size(), "-byte file cannot hold that many");
  check(n_kv <= r.left() / 13, "gguf", path, ": header claims ", n_kv, " key-values but the ", r.size(),
        "-byte file cannot hold that many");

  TensorFile out;
  const uint32_t alignment = read_metadata(r, n_kv, out);
  std::vector<TensorInfo> infos;
  infos.reserve(size_t(n_tensors));
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    infos.push_back(read_tensor_info(r, i));
    check(names.insert(infos.back().name).second, "gguf", path, ": tensor '", infos.back().name,
          "' appears twice");
  }
  const uint64_t data_start = (r.pos() + alignment - 1) / alignment * alignment;
  check(n_tensors == 0 || data_start <= r.size(), "gguf", path, ": the data section would start at byte ",
        data_start, ", past the end of the ", r.size(), "-byte file");
  if (n_tensors) check_layout(r, infos, data_start, alignment);
  apply_orig_shapes(path, infos, out);

  // The header is valid: tensors stored in a kinema dtype point into the mapped file (a file
  // that is no longer the size the header was checked against is refused before mapping).
  std::shared_ptr<MappedFile> mapped;
  if (options.memory == TensorMemory::mapped && n_tensors > 0) {
    const ReadOnlyFile file = ReadOnlyFile::open(path, "gguf");
    check(file.size() == r.size(), "gguf", path, " is ", file.size(), " bytes now but was ", r.size(),
          " when its header was checked; it changed while loading (load it again once it is complete)");
    mapped = file.map();
  }
  for (const TensorInfo& info : infos) {
    // q8_0/q4_0 stay blocked along the last dimension, if the returned shape allows it.
    DType dt = kinema_dtype(info.type, options.dequantize_to);
    if (is_quantized(dt) && info.out_shape.back() % kQuantBlock != 0) dt = options.dequantize_to;
    Tensor t;
    if (mapped && !gguf::needs_dequantize(info.type) && dt == kinema_dtype(info.type, DType::f32))
      t = mapped_tensor(mapped, data_start + info.offset, info.out_shape, dt);
    if (!t.defined()) {
      t = Tensor::empty(info.out_shape, dt);
      read_tensor(f, path, data_start, info, t);
    }
    out.tensors[info.name] = t;
  }
  return out;
}

}  // namespace kinema
