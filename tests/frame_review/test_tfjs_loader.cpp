// The TF.js model loader: dequantization, clear errors on malformed files, and no crash (only
// kinema::Error) on mutated JSON and shard bytes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "kinema/error.hpp"
#include "kinema/frame_review.hpp"

using namespace kinema;

namespace {

std::string tiny_json() {
  return R"({"modelTopology": {}, "weightsManifest": [{"paths": ["s1", "s2"], "weights": [
    {"name": "a", "shape": [2, 2], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}},
    {"name": "b", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 0.25, "min": 1}},
    {"name": "c", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}},
    {"name": "d", "shape": [1], "dtype": "float32"},
    {"name": "e", "shape": [], "dtype": "int32"}]}]})";
}

std::string tiny_bytes() {
  std::string b;
  for (uint8_t q : {0, 1, 2, 200}) b.push_back(char(q));      // a
  for (uint16_t q : {4, 1000}) b.append(reinterpret_cast<const char*>(&q), 2);  // b
  for (uint16_t h : {0x3c00, 0xc100}) b.append(reinterpret_cast<const char*>(&h), 2);  // c: 1, -2.5
  float f = 3.25f;
  b.append(reinterpret_cast<const char*>(&f), 4);  // d
  int32_t i = -7;
  b.append(reinterpret_cast<const char*>(&i), 4);  // e
  return b;
}

TfjsModel parse(const std::string& json, const std::string& bytes) {
  // Two shards: the bytes split after 3, to check that shards of a group are concatenated.
  const size_t cut = std::min<size_t>(3, bytes.size());
  return parse_tfjs_model(json, [&](const std::string& p) {
    if (p == "s1") return bytes.substr(0, cut);
    if (p == "s2") return bytes.substr(cut);
    throw Error("[test] no shard " + p);
  });
}

std::string error_of(const std::string& json, const std::string& bytes) {
  try {
    parse(json, bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST(TfjsLoader, DequantizesEveryEncoding) {
  TfjsModel m = parse(tiny_json(), tiny_bytes());
  EXPECT_EQ(m.weights.at("a").to_vector(), (std::vector<float>{-1, -0.5f, 0, 99}));
  EXPECT_EQ(m.weights.at("a").shape(), (Shape{2, 2}));
  EXPECT_EQ(m.weights.at("b").to_vector(), (std::vector<float>{2, 251}));
  EXPECT_EQ(m.weights.at("c").to_vector(), (std::vector<float>{1, -2.5f}));
  EXPECT_EQ(m.weights.at("d").item(), 3.25f);
  EXPECT_EQ(m.weights.at("e").item(), -7.f);
}

TEST(TfjsLoader, MalformedFilesGiveClearErrors) {
  const std::string j = tiny_json(), b = tiny_bytes();
  EXPECT_NE(error_of("{", b).find("not JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"modelTopology": {}})", b).find("missing field 'weightsManifest'"), std::string::npos);
  EXPECT_NE(error_of(j, b.substr(0, b.size() - 1)).find("weight 'e': the shards end early"), std::string::npos);
  EXPECT_NE(error_of(j, b + "x").find("the shards hold 21 bytes but the weights use 20"), std::string::npos);
  EXPECT_NE(error_of(replace(j, "\"int32\"", "\"complex64\""), b).find("dtype 'complex64' is not supported"),
            std::string::npos);
  EXPECT_NE(error_of(replace(j, "[2, 2]", "[2, -2]"), b).find("weight 'a': shape entries"), std::string::npos);
  EXPECT_NE(error_of(replace(j, "[2, 2]", "[65536, 65536]"), b).find("more than 2^31"), std::string::npos);
  EXPECT_NE(error_of(replace(j, "\"s2\"", "\"../s2\""), b).find("must be relative"), std::string::npos);
  EXPECT_NE(error_of(replace(j, "\"name\": \"b\"", "\"name\": \"a\""), b).find("weight 'a': duplicate"),
            std::string::npos);
  EXPECT_NE(error_of(replace(j, "\"scale\": 0.5", "\"scale\": \"x\""), b).find("scale and min must be finite"),
            std::string::npos);
  EXPECT_NE(error_of(replace(j, "\"uint16\"", "\"int4\""), b).find("quantization dtype 'int4'"), std::string::npos);
}

// Mutated bytes anywhere in model.json or the shards: the loader returns or throws kinema::Error.
TEST(TfjsLoader, MutatedFilesNeverCrash) {
  std::mt19937 rng(9);
  const std::string j0 = tiny_json(), b0 = tiny_bytes();
  const std::string alphabet = "{}[]\",:0123456789-e.a \\";
  int ok = 0, errors = 0;
  for (int it = 0; it < 3000; ++it) {
    std::string j = j0, b = b0;
    const int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 5) {
        case 0: j[rng() % j.size()] = alphabet[rng() % alphabet.size()]; break;
        case 1: j.erase(rng() % j.size(), 1 + rng() % 8); break;
        case 2: j.insert(rng() % j.size(), 1, alphabet[rng() % alphabet.size()]); break;
        case 3: if (!b.empty()) b[rng() % b.size()] = char(rng()); break;
        default: b.resize(rng() % (b.size() + 4)); break;
      }
      if (j.empty()) j = "{";
    }
    try {
      parse(j, b);
      ++ok;
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 1000);
  EXPECT_GT(ok, 10);  // some mutations (shard values, whitespace) stay valid
}

// Topology mutations of the real nsfwjs model: FrameClassifier::load returns or throws Error.
TEST(TfjsLoader, MutatedTopologyNeverCrashes) {
  namespace fs = std::filesystem;
  const fs::path src = fs::path(KINEMA_BINARY_DIR) / "models/nsfwjs_mobilenet_v2";
  std::ifstream f(src / "model.json");
  ASSERT_TRUE(f) << src;
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string j0 = ss.str();
  const fs::path dir = fs::temp_directory_path() / ("kinema_frame_fuzz_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(src / "group1-shard1of1", dir / "group1-shard1of1", fs::copy_options::overwrite_existing);
  std::mt19937 rng(9);
  // Mutate the values the interpreter reads: numbers, names and class names.
  const std::vector<std::pair<std::string, std::string>> swaps = {
      {"\"kernel_size\":[3,3]", "\"kernel_size\":[5,3]"}, {"\"strides\":[2,2]", "\"strides\":[0,2]"},
      {"\"padding\":\"same\"", "\"padding\":\"full\""}, {"\"Conv2D\"", "\"Conv3D\""},
      {"\"Dense\"", "\"Dense2\""}, {"[[0,1],[0,1]]", "[[0,1],[0]]"},
      {"\"inbound_nodes\":[[[\"Conv1\"", "\"inbound_nodes\":[[[\"nowhere\""}, {"224,224,3", "224,3"},
      {"\"max_value\":6", "\"max_value\":\"six\""}, {"\"output_layers\"", "\"outputs\""},
      {"\"epsilon\":0.001", "\"epsilon\":null"}, {"\"activation\":\"softmax\"", "\"activation\":\"elu\""}};
  int errors = 0;
  for (int it = 0; it < 40; ++it) {
    std::string j = j0;
    if (it < int(swaps.size())) {
      const size_t at = j.find(swaps[it].first);
      ASSERT_NE(at, std::string::npos) << swaps[it].first;
      j.replace(at, swaps[it].first.size(), swaps[it].second);
    } else {
      for (int e = 0; e < 3; ++e) j[rng() % j.size()] = "{}[],:\"0a"[rng() % 9];
    }
    std::ofstream(dir / "model.json", std::ios::binary) << j;
    try {
      FrameClassifier::load(dir.string());
    } catch (const Error&) {
      ++errors;
    }
  }
  fs::remove_all(dir);
  EXPECT_GE(errors, int(swaps.size()));
}
