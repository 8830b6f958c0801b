#include "kinema/tensor_file.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/mapped_file.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"

namespace kinema {
namespace {

using json = nlohmann::json;

const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    default: return nullptr;
  }
}

DType from_st(const std::string& s, const std::string& name, const std::string& path) {
  if (s == "F32") return DType::f32;
  if (s == "BF16") return DType::bf16;
  if (s == "F16") return DType::f16;
  fail("safetensors", path, ": tensor '", name, "' has dtype ", s,
       " which kinema does not read; expected F32, BF16 or F16");
}

constexpr uint64_t kMaxHeader = 100ull << 20;  // 100 MiB of JSON is already absurd

}  // namespace

void save_tensors(const std::string& path, const TensorFile& file) {
  json header = json::object();
  uint64_t offset = 0;
  std::vector<std::pair<const Tensor*, uint64_t>> order;
  for (const auto& [name, t] : file.tensors) {
    const char* dt = st_dtype(t.dtype());
    KINEMA_CHECK(dt != nullptr, "safetensors", "cannot store tensor '", name, "' of dtype ",
          dtype_name(t.dtype()), " (F32/BF16/F16 only)");
    uint64_t bytes = uint64_t(t.numel()) * block_bytes(t.dtype());
    header[name] = {{"dtype", dt}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    order.push_back({&t, bytes});
    offset += bytes;
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    KINEMA_CHECK(bool(f), "safetensors", "cannot write ", tmp);
    uint64_t n = text.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = (n >> (8 * i)) & 0xff;
    f.write(reinterpret_cast<const char*>(len), 8);
    f.write(text.data(), std::streamsize(text.size()));
    for (auto& [t, bytes] : order) {
      Tensor c = contiguous(t->detach());
      f.write(reinterpret_cast<const char*>(c.raw_data()), std::streamsize(bytes));
    }
    KINEMA_CHECK(bool(f), "safetensors", "write to ", tmp, " failed (disk full?)");
  }
  KINEMA_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "safetensors", "cannot rename ", tmp, " to ", path);
}

TensorFile load_tensors(const std::string& path, const TensorLoadOptions& options) {
  const ReadOnlyFile f = ReadOnlyFile::open(path, "safetensors");
  const uint64_t size = f.size();
  KINEMA_CHECK(size >= 8, "safetensors", path, " is ", size, " bytes: too short for a header");
  unsigned char len[8];
  f.read(0, len, 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(len[i]) << (8 * i);
  KINEMA_CHECK(n <= kMaxHeader && n <= size - 8, "safetensors", path, ": header length ", n,
        " exceeds the file (", size, " bytes)");
  std::string text(static_cast<size_t>(n), '\0');
  f.read(8, text.data(), n);
  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    fail("safetensors", path, ": header is not valid JSON (", e.what(), ")");
  }
  KINEMA_CHECK(header.is_object(), "safetensors", path, ": header must be a JSON object");
  const uint64_t data_start = 8 + n, data_size = size - data_start;
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  TensorFile out;
  std::vector<Entry> entries;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      KINEMA_CHECK(entry.is_object(), "safetensors", path, ": __metadata__ must be an object");
      for (auto& [k, v] : entry.items())
        if (v.is_string()) out.metadata[k] = v.get<std::string>();
      continue;
    }
    try {
      DType dt = from_st(entry.at("dtype").get<std::string>(), name, path);
      Shape shape = entry.at("shape").get<Shape>();
      auto offs = entry.at("data_offsets").get<std::vector<uint64_t>>();
      KINEMA_CHECK(offs.size() == 2 && offs[0] <= offs[1] && offs[1] <= data_size, "safetensors", path,
            ": tensor '", name, "' data_offsets out of the file's ", data_size, " data bytes");
      int64_t numel = shape_numel(shape);
      KINEMA_CHECK(uint64_t(numel) <= data_size && uint64_t(numel) * block_bytes(dt) == offs[1] - offs[0],
            "safetensors", path, ": tensor '", name, "' shape ", shape_str(shape), " needs ",
            uint64_t(numel) * block_bytes(dt), " bytes but its range holds ", offs[1] - offs[0]);
      entries.push_back({name, dt, std::move(shape), offs[0], offs[1]});
    } catch (const json::exception& e) {
      fail("safetensors", path, ": tensor '", name, "' has a malformed entry (", e.what(), ")");
    }
  }
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Entry& e : entries) ranges.push_back({e.begin, e.end});
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    KINEMA_CHECK(ranges[i].first >= ranges[i - 1].second, "safetensors", path,
          ": two tensors overlap in the data section");
  // The whole header is valid: only now is data mapped or read.
  const std::shared_ptr<MappedFile> mapped = options.memory == TensorMemory::mapped ? f.map() : nullptr;
  for (const Entry& e : entries) {
    Tensor t = mapped ? mapped_tensor(mapped, data_start + e.begin, e.shape, e.dtype) : Tensor();
    if (!t.defined()) {  // read, or not aligned to its elements in the file: a copy
      t = Tensor::empty(e.shape, e.dtype);
      f.read(data_start + e.begin, t.raw_data(), e.end - e.begin);
    }
    out.tensors[e.name] = t;
  }
  return out;
}

}  // namespace kinema
