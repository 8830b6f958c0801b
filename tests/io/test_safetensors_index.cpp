// load_safetensors_index: a 3-shard round trip (shards written by save_tensors) and every way
// an index can disagree with its shards or point outside its folder.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "io_test_util.hpp"
#include "kinema/error.hpp"
#include "kinema/weights.hpp"

namespace kinema {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

Tensor ramp(const Shape& shape, float start, DType dtype) {
  std::vector<float> v(size_t(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + 0.25f * float(i);
  return Tensor::from_vector(v, shape, dtype);
}

struct Sharded {
  test::TempDir dir;
  json index;
  std::map<std::string, Tensor> all;
  // Three shards: two beside the index, one in a subfolder.
  Sharded() {
    std::map<std::string, std::map<std::string, Tensor>> shards = {
        {"model-00001-of-00003.safetensors",
         {{"blocks.0.q.weight", ramp({4, 4}, 0, DType::f32)}, {"blocks.0.q.bias", ramp({4}, 1, DType::f32)}}},
        {"model-00002-of-00003.safetensors",
         {{"blocks.1.q.weight", ramp({4, 4}, 2, DType::bf16)}, {"head.weight", ramp({2, 4}, 3, DType::f16)}}},
        {"sub/model-00003-of-00003.safetensors", {{"embed.weight", ramp({8, 4}, 4, DType::f32)}}},
    };
    fs::create_directories(dir.file("sub"));
    index = {{"metadata", {{"total_size", 356}, {"format", "pt"}}}, {"weight_map", json::object()}};
    for (auto& [file, tensors] : shards) {
      TensorFile tf;
      tf.tensors = tensors;
      save_tensors(dir.file(file), tf);
      for (auto& [name, t] : tensors) {
        index["weight_map"][name] = file;
        all[name] = t;
      }
    }
  }
  std::string write(const json& j) const {
    std::string path = dir.file("model.safetensors.index.json");
    std::ofstream(path) << j.dump(1);
    return path;
  }
  std::string error(const json& j) const {
    try {
      load_safetensors_index(write(j));
    } catch (const Error& e) {
      return e.what();
    }
    return "(loaded)";
  }
};

TEST(SafetensorsIndex, ThreeShardRoundTrip) {
  Sharded s;
  TensorFile f = load_safetensors_index(s.write(s.index));
  ASSERT_EQ(f.tensors.size(), s.all.size());
  for (const auto& [name, want] : s.all) {
    const Tensor& got = f.tensors.at(name);
    EXPECT_EQ(got.dtype(), want.dtype()) << name;
    ASSERT_EQ(got.shape(), want.shape()) << name;
    EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), size_t(want.numel()) * block_bytes(want.dtype())), 0)
        << name;
  }
  EXPECT_EQ(f.metadata.at("total_size"), "356");
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

TEST(SafetensorsIndex, DisagreementsAreErrors) {
  Sharded s;
  struct Case {
    const char* what;
    const char* phrase;
    json index;
  };
  std::vector<Case> cases;
  auto with = [&](const char* name, json shard) {
    json j = s.index;
    j["weight_map"][name] = shard;
    return j;
  };
  cases.push_back({"missing shard", "is missing", with("extra.weight", "model-00009-of-00009.safetensors")});
  json missing_name = s.index;  // the index names a tensor its shard lacks
  missing_name["weight_map"]["ghost.weight"] = "model-00001-of-00003.safetensors";
  cases.push_back({"name missing from shard", "'ghost.weight' is missing from shard", missing_name});
  json extra = s.index;  // a shard holds a name the index does not list
  extra["weight_map"].erase("head.weight");
  cases.push_back({"extra name in shard", "holds tensor 'head.weight', which the index does not list", extra});
  cases.push_back({"name in the wrong shard", "'head.weight' is missing from shard",
                   with("head.weight", "model-00001-of-00003.safetensors")});
  {  // a fourth shard that also holds head.weight, which the index keeps in shard 2
    TensorFile dup;
    dup.tensors = {{"head.weight", ramp({2, 4}, 3, DType::f16)}, {"extra.w", ramp({2}, 0, DType::f32)}};
    save_tensors(s.dir.file("dup.safetensors"), dup);
    cases.push_back({"name in two shards", "which the index places in model-00002",
                     with("extra.w", "dup.safetensors")});
  }
  cases.push_back({"dot-dot", "not a file beside the index", with("head.weight", "../model-00002-of-00003.safetensors")});
  cases.push_back({"inner dot-dot", "not a file beside the index", with("head.weight", "sub/../../x.safetensors")});
  cases.push_back({"absolute", "not a file beside the index", with("head.weight", "/etc/passwd")});
  cases.push_back({"empty name", "not a file beside the index", with("head.weight", "")});
  cases.push_back({"not a string", "expected a shard file name", with("head.weight", 3)});
  cases.push_back({"no weight_map", "\"weight_map\"", json{{"metadata", json::object()}}});
  cases.push_back({"empty weight_map", "weight_map is empty", json{{"weight_map", json::object()}}});
  cases.push_back({"not an object", "\"weight_map\"", json::array({1, 2})});
  for (const Case& c : cases) {
    std::string msg = s.error(c.index);
    EXPECT_NE(msg.find(c.phrase), std::string::npos) << c.what << ": " << msg;
    std::printf("  %-24s %s\n", c.what, msg.c_str());
  }
  // Not JSON at all; a shard that is not safetensors; no index file.
  std::string path = s.dir.file("model.safetensors.index.json");
  std::ofstream(path) << "{\"weight_map\": {";
  EXPECT_THROW(load_safetensors_index(path), Error);
  std::ofstream(s.dir.file("model-00001-of-00003.safetensors")) << "garbage";
  EXPECT_THROW(load_safetensors_index(s.write(s.index)), Error);
  EXPECT_THROW(load_safetensors_index(s.dir.file("nope.index.json")), Error);
}

}  // namespace
}  // namespace kinema
