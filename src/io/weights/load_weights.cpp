// load_weights: one entry for every weights format, chosen by content (kinema/weights.hpp).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "kinema/error.hpp"
#include "kinema/weights.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

std::string first_bytes(const std::string& path, size_t n) {
  std::ifstream f(path, std::ios::binary);
  check(bool(f), "weights", "cannot open ", path);
  std::string s(n, '\0');
  f.read(s.data(), std::streamsize(n));
  s.resize(size_t(f.gcount()));
  return s;
}

std::string hex(const std::string& bytes) {
  std::string out;
  char b[4];
  for (unsigned char c : bytes) std::snprintf(b, sizeof b, "%02x ", c), out += b;
  return out.empty() ? "(empty)" : out.substr(0, out.size() - 1);
}

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A directory: its sharded index, else its one weights file.
std::string pick_in_directory(const std::string& dir) {
  std::vector<std::string> indexes, files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (has_suffix(name, ".safetensors.index.json")) indexes.push_back(e.path().string());
    for (const char* ext : {".safetensors", ".gguf", ".pth", ".pt", ".ckpt"})
      if (has_suffix(name, ext)) files.push_back(e.path().string());
  }
  check(indexes.size() <= 1, "weights", dir, " holds ", indexes.size(), " *.safetensors.index.json files; name one");
  if (indexes.size() == 1) return indexes[0];
  check(files.size() == 1, "weights", dir, files.empty() ? " holds no weights file (.safetensors, .gguf, .pth)"
                                                         : " holds several weights files; name the one to load");
  return files[0];
}

}  // namespace

TensorFile load_weights(const std::string& path_in, const WeightLoadOptions& options) {
  check(fs::exists(path_in), "weights", "no such file or directory: ", path_in);
  const std::string path = fs::is_directory(path_in) ? pick_in_directory(path_in) : path_in;
  const std::string head = first_bytes(path, 16);
  if (head.rfind("GGUF", 0) == 0) return load_gguf(path, options);
  if (head.rfind("PK\x03\x04", 0) == 0) return load_pth(path);
  const TensorLoadOptions memory{options.memory};
  if (has_suffix(path, ".json") || (!head.empty() && head[0] == '{')) return load_safetensors_index(path, memory);
  if (head.size() >= 9 && head[8] == '{') return load_tensors(path, memory);  // safetensors: u64 length, then JSON
  check(!(head.size() >= 2 && uint8_t(head[0]) == 0x80 && uint8_t(head[1]) <= 5), "weights", path,
        " is a bare pickle (PyTorch's format before 1.6, or a pickled object): kinema reads only tensors, from "
        "torch.save's zip format; re-save it with torch.save(state_dict, path) on a current PyTorch, or as "
        "safetensors");
  fail("weights", path, " is not a weights file kinema knows (safetensors, sharded safetensors index, PyTorch "
       "zip .pth/.pt, GGUF); it starts with ", hex(head));
}

}  // namespace kinema
