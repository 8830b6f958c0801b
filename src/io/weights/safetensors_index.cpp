// load_safetensors_index: Hugging Face's sharded safetensors ("model.safetensors.index.json":
// {"metadata": {...}, "weight_map": {tensor name: shard file}}). The index is checked in full
// before any shard is read: shard names stay inside the index's folder (no absolute paths, no
// ".."), and each shard must exist. Then each shard is read with load_tensors and must hold
// exactly the names the index gives it: a name missing from its shard, or a shard holding a
// name the index does not give it, is an Error naming both.
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kinema/error.hpp"
#include "kinema/weights.hpp"

namespace kinema {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::uintmax_t kMaxIndexBytes = 64u << 20;  // ~1M names; real indexes are < 1 MiB

json read_index(const std::string& path) {
  std::error_code ec;
  std::uintmax_t size = fs::file_size(path, ec);
  KINEMA_CHECK(!ec, "safetensors index", "cannot open ", path, " (", ec.message(), ")");
  KINEMA_CHECK(size <= kMaxIndexBytes, "safetensors index", path, " is ", size,
               " bytes; an index is JSON of at most ", kMaxIndexBytes);
  std::ifstream f(path, std::ios::binary);
  KINEMA_CHECK(bool(f), "safetensors index", "cannot open ", path);
  std::stringstream text;
  text << f.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::exception& e) {
    fail("safetensors index", path, " is not valid JSON (", e.what(), ")");
  }
}

// A shard name must be a relative path that stays in the index's folder.
void check_shard_name(const std::string& shard, const std::string& name, const std::string& path) {
  fs::path p(shard);
  bool escapes = shard.empty() || p.is_absolute() || p.has_root_name() || p.has_root_directory();
  for (const auto& part : p)
    if (part == "..") escapes = true;
  KINEMA_CHECK(!escapes, "safetensors index", path, ": tensor '", name, "' names shard '", shard,
               "', which is not a file beside the index; expected a relative name such as "
               "\"model-00001-of-00002.safetensors\" (no absolute paths, no \"..\")");
}

}  // namespace

TensorFile load_safetensors_index(const std::string& index_path, const TensorLoadOptions& options) {
  json index = read_index(index_path);
  KINEMA_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
               "safetensors index", index_path, ": expected a JSON object with a \"weight_map\" "
               "object ({tensor name: shard file})");
  const json& map = index["weight_map"];
  KINEMA_CHECK(!map.empty(), "safetensors index", index_path, ": the weight_map is empty");
  std::map<std::string, std::set<std::string>> shards;  // shard file -> names the index gives it
  for (const auto& [name, shard] : map.items()) {
    KINEMA_CHECK(shard.is_string(), "safetensors index", index_path, ": tensor '", name,
                 "' maps to ", shard.dump(), "; expected a shard file name");
    check_shard_name(shard.get<std::string>(), name, index_path);
    shards[shard.get<std::string>()].insert(name);
  }
  const fs::path dir = fs::path(index_path).parent_path();
  for (const auto& [shard, names] : shards) {
    std::error_code ec;
    KINEMA_CHECK(fs::is_regular_file(dir / shard, ec), "safetensors index", index_path,
                 ": shard ", (dir / shard).string(), " is missing (the index gives it ", names.size(),
                 " tensors, e.g. '", *names.begin(), "')");
  }
  TensorFile out;
  if (index.contains("metadata") && index["metadata"].is_object())
    for (const auto& [k, v] : index["metadata"].items())
      out.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
  for (const auto& [shard, names] : shards) {
    const std::string file = (dir / shard).string();
    TensorFile part = load_tensors(file, options);
    for (const std::string& name : names)
      KINEMA_CHECK(part.tensors.count(name), "safetensors index", index_path, ": tensor '", name,
                   "' is missing from shard ", file, ", where the index says it is");
    for (auto& [name, t] : part.tensors) {
      auto it = map.find(name);
      KINEMA_CHECK(it != map.end(), "safetensors index", index_path, ": shard ", file,
                   " holds tensor '", name, "', which the index does not list");
      KINEMA_CHECK(names.count(name), "safetensors index", index_path, ": shard ", file,
                   " holds tensor '", name, "', which the index places in ", it->get<std::string>());
      out.tensors[name] = std::move(t);
    }
    for (auto& [k, v] : part.metadata) out.metadata.emplace(k, v);  // the index's own win
  }
  return out;
}

}  // namespace kinema
