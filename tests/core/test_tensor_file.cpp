// safetensors round trips, hostile files and a byte-flip fuzz loop.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "kinema/error.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {
namespace {
namespace fs = std::filesystem;

fs::path temp(const std::string& name) { return fs::temp_directory_path() / ("kinema-tf-" + name); }

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
void write_all(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(s.data(), std::streamsize(s.size()));
}
std::string with_header(const std::string& json, const std::string& data) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char((json.size() >> (8 * i)) & 0xff);
  return s + json + data;
}

TEST(TensorFile, RoundTripsDtypesShapesAndMetadata) {
  TensorFile f;
  f.tensors["a.weight"] = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  f.tensors["b"] = Tensor::from_vector({0.5f, -1.5f}, {2}, DType::bf16);
  f.tensors["scalar"] = Tensor::from_vector({7}, {}, DType::f16);
  f.metadata["step"] = "42";
  save_tensors(temp("rt").string(), f);
  TensorFile g = load_tensors(temp("rt").string());
  ASSERT_EQ(g.tensors.size(), 3u);
  EXPECT_EQ(g.tensors["a.weight"].to_vector(), f.tensors["a.weight"].to_vector());
  EXPECT_EQ(g.tensors["b"].dtype(), DType::bf16);
  EXPECT_EQ(g.tensors["b"].to_vector(), (std::vector<float>{0.5f, -1.5f}));
  EXPECT_EQ(g.tensors["scalar"].shape(), Shape{});
  EXPECT_EQ(g.metadata["step"], "42");
}

TEST(TensorFile, HostileFilesGiveErrors) {
  auto bad = [](const std::string& bytes, const char* needle) {
    write_all(temp("bad"), bytes);
    try {
      load_tensors(temp("bad").string());
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bad("", "too short");
  bad(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", "header length");
  bad(with_header("{not json", ""), "not valid JSON");
  bad(with_header(R"({"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", std::string(8, 'a')), "F64");
  bad(with_header(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, 'a')), "out of the file");
  bad(with_header(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, 'a')), "needs 12 bytes");
  bad(with_header(R"({"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", std::string(8, 'a')), "overflow");
  bad(with_header(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::string(12, 'a')), "overlap");
  bad(with_header(R"({"x":{"dtype":"F32"}})", ""), "malformed");
  EXPECT_THROW(load_tensors("/nonexistent/file.safetensors"), Error);
}

TEST(TensorFile, ByteFlipFuzzNeverCrashes) {
  TensorFile f;
  f.tensors["w"] = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  f.tensors["v"] = Tensor::from_vector({5, 6}, {2}, DType::bf16);
  save_tensors(temp("fz").string(), f);
  std::string good = read_all(temp("fz"));
  std::mt19937 rng(1234);
  int errors = 0, ok = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s = good;
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) s[rng() % s.size()] = char(rng());
    if (rng() % 8 == 0) s.resize(rng() % s.size());
    write_all(temp("fz2"), s);
    try {
      load_tensors(temp("fz2").string());
      ++ok;
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 100);  // most mutations are caught
  EXPECT_EQ(errors + ok, 2000);
}

}  // namespace
}  // namespace kinema
