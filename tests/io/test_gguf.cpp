// GGUF (issue 8): round trips through save_gguf/load_gguf, and every type kinema reads checked
// against an independent numpy oracle (gguf_reference.py: blocks built and dequantized from
// the spec, sharing no code with the reader).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "io_test_util.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/weights.hpp"

namespace kinema {
namespace {

Tensor random_tensor(const Shape& shape, uint32_t seed) {
  std::vector<float> v(size_t(shape_numel(shape)));
  uint32_t s = seed * 2654435761u + 1;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = (float(s >> 8) / float(1 << 24) - 0.5f) * 3.f;
  }
  return Tensor::from_vector(v, shape);
}

size_t data_bytes(const Tensor& t) { return size_t(t.numel() / block_elems(t.dtype()) * block_bytes(t.dtype())); }

void expect_same(const Tensor& a, const Tensor& b, const std::string& name) {
  ASSERT_TRUE(b.defined()) << name;
  EXPECT_EQ(a.dtype(), b.dtype()) << name;
  EXPECT_EQ(a.shape(), b.shape()) << name;
  Tensor ca = contiguous(a), cb = contiguous(b);
  ASSERT_EQ(data_bytes(ca), data_bytes(cb)) << name;
  EXPECT_EQ(std::memcmp(ca.raw_data(), cb.raw_data(), data_bytes(ca)), 0) << name << ": bytes differ";
}

TEST(Gguf, RoundTripKeepsEveryWritableTypeAndTheMetadata) {
  test::TempDir dir;
  TensorFile f;
  f.tensors["a.f32"] = random_tensor({3, 5}, 1);
  f.tensors["b.f16"] = cast(random_tensor({7}, 2), DType::f16);
  f.tensors["c.bf16"] = cast(random_tensor({2, 3, 4}, 3), DType::bf16);
  f.tensors["d.q8_0"] = cast(random_tensor({4, 64}, 4), DType::q8_0);
  f.tensors["e.q4_0"] = cast(random_tensor({2, 2, 3, 32}, 5), DType::q4_0);
  f.tensors["f.strided"] = transpose(random_tensor({4, 6}, 6), 0, 1);  // written contiguous
  f.tensors["g.empty"] = Tensor::empty({0, 3});
  f.metadata["general.name"] = "round trip";
  f.metadata["kinema.config"] = R"({"dim": 64, "text": "a \"quoted\" value"})";
  f.metadata["empty"] = "";
  const std::string path = dir.file("w.gguf");
  save_gguf(path, f);
  TensorFile g = load_gguf(path);
  EXPECT_EQ(g.metadata, f.metadata);
  ASSERT_EQ(g.tensors.size(), f.tensors.size());
  for (const auto& [name, t] : f.tensors) expect_same(t, g.tensors[name], name);
  // The header is what ggml expects: magic, version 3, counts.
  auto bytes = test::read_bytes(path);
  ASSERT_GE(bytes.size(), 24u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "GGUF");
  EXPECT_EQ(bytes[4], 3);
  EXPECT_EQ(bytes[8], f.tensors.size());
}

TEST(Gguf, ScalarsBecomeOneElementAndMoreThanFourDimsUseComfyOrigShape) {
  test::TempDir dir;
  TensorFile f;
  f.tensors["s"] = Tensor::scalar(2.5f);
  save_gguf(dir.file("s.gguf"), f);
  TensorFile g = load_gguf(dir.file("s.gguf"));
  EXPECT_EQ(g.tensors["s"].shape(), Shape{1});
  EXPECT_EQ(g.tensors["s"].item(), 2.5f);

  // Wan's patch_embedding is a Conv3d: [out, in, t, h, w]. GGUF has 4 dimensions; the file
  // holds [rest, last] and ComfyUI-GGUF's comfy.gguf.orig_shape key, consumed on load.
  TensorFile five;
  five.tensors["patch_embedding.weight"] = random_tensor({16, 4, 1, 2, 2}, 7);
  five.tensors["q"] = cast(random_tensor({2, 1, 3, 1, 64}, 8), DType::q8_0);
  five.metadata["k"] = "v";
  save_gguf(dir.file("five.gguf"), five);
  TensorFile back = load_gguf(dir.file("five.gguf"));
  EXPECT_EQ(back.metadata, five.metadata);
  for (const auto& [name, t] : five.tensors) expect_same(t, back.tensors[name], name);
  TensorFile long_name;
  long_name.tensors[std::string(64, 'n')] = Tensor::zeros({2});
  EXPECT_THROW(save_gguf(dir.file("y.gguf"), long_name), Error);
}

// Runs the oracle; returns its folder's files.
struct Reference {
  test::TempDir dir;
  TensorFile expected;
  Reference() {
    std::string cmd = std::string(KINEMA_PYTHON) + " " + KINEMA_SOURCE_DIR + "/tests/io/gguf_reference.py " +
                      dir.path + " > " + dir.file("log.txt") + " 2>&1";
    int rc = std::system(cmd.c_str());
    if (rc != 0) {
      std::ifstream log(dir.file("log.txt"));
      ADD_FAILURE() << "gguf_reference.py failed (" << rc << "):\n" << log.rdbuf();
      return;
    }
    expected = load_tensors(dir.file("expected.safetensors"));
  }
};

DType expected_dtype(const std::string& name, DType dequantized) {
  for (auto [suffix, dt] : {std::pair{".f32", DType::f32}, {".f16", DType::f16}, {".bf16", DType::bf16},
                            {".q8_0", DType::q8_0}, {".q4_0", DType::q4_0}, {".empty", DType::f32}})
    if (name.size() > std::strlen(suffix) && name.compare(name.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
      return dt;
  return dequantized;
}

void check_against_oracle(const std::string& path, const TensorFile& expected, DType dequantize_to) {
  WeightLoadOptions o;
  o.dequantize_to = dequantize_to;
  TensorFile got = load_gguf(path, o);
  ASSERT_EQ(got.tensors.size(), expected.tensors.size()) << path;
  int dequantized = 0;
  for (const auto& [name, want] : expected.tensors) {
    SCOPED_TRACE(path + " " + name + " as " + std::string(dtype_name(dequantize_to)));
    ASSERT_TRUE(got.tensors.count(name));
    const Tensor& t = got.tensors.at(name);
    EXPECT_EQ(t.shape(), want.shape());
    EXPECT_EQ(t.dtype(), expected_dtype(name, dequantize_to));
    dequantized += expected_dtype(name, DType::f16) == DType::f16 && name != "w.f16";
    std::vector<float> a = t.to_vector(), b = want.to_vector();
    ASSERT_EQ(a.size(), b.size());
    size_t bad = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      // Dequantized to bf16: exactly the oracle's f32 rounded to nearest even.
      float w = t.dtype() == DType::bf16 && expected_dtype(name, DType::f32) == DType::f32
                    ? bf16_to_f32(f32_to_bf16(b[i])) : b[i];
      if (a[i] != w && bad++ < 3) ADD_FAILURE() << "element " << i << ": got " << a[i] << ", oracle " << w;
    }
    EXPECT_EQ(bad, 0u);
  }
  EXPECT_EQ(dequantized, 7) << "q4_1, q5_0, q5_1, q4_K, q5_K, q6_K and the reshaped q8_0";
}

TEST(Gguf, EveryTypeMatchesTheIndependentOracleExactly) {
  Reference ref;
  ASSERT_EQ(ref.expected.tensors.size(), 14u);
  for (const char* file : {"v3.gguf", "v2_align64.gguf"})
    for (DType dt : {DType::f32, DType::bf16}) check_against_oracle(ref.dir.file(file), ref.expected, dt);
}

TEST(Gguf, EveryValueTypeBecomesAMetadataString) {
  Reference ref;
  TensorFile v3 = load_gguf(ref.dir.file("v3.gguf"));
  const std::map<std::string, std::string> want = {
      {"test.u8", "200"}, {"test.i8", "-5"}, {"test.u16", "65535"}, {"test.i16", "-300"},
      {"test.u32", "4000000000"}, {"test.i32", "-7"}, {"test.f32", "0.5"}, {"test.bool", "true"},
      {"test.string", "say \"hi\"\n\xc3\xa9"}, {"test.array_u32", "[1,2,3]"},
      {"test.u64", "18446744073709551615"}, {"test.i64", "-9223372036854775808"},
      {"test.f64", "0.10000000000000001"}, {"test.array_str", R"(["a","b\"c"])"},
      {"test.array_nested", "[[1,-2],[3]]"}, {"test.array_f32", "[1.5,null]"},
      {"general.name", "gguf reference"}};
  EXPECT_EQ(v3.metadata, want);
  TensorFile v2 = load_gguf(ref.dir.file("v2_align64.gguf"));
  EXPECT_EQ(v2.metadata.at("general.alignment"), "64");
  v2.metadata.erase("general.alignment");
  EXPECT_EQ(v2.metadata, want);
}

TEST(Gguf, ResavedOracleFileKeepsTheUnchangedTypesBitForBit) {
  Reference ref;
  TensorFile a = load_gguf(ref.dir.file("v2_align64.gguf"), {DType::f32});
  save_gguf(ref.dir.file("again.gguf"), a);
  TensorFile b = load_gguf(ref.dir.file("again.gguf"), {DType::f32});
  a.metadata.erase("general.alignment");  // the writer always uses the default alignment
  EXPECT_EQ(a.metadata, b.metadata);
  for (const auto& [name, t] : a.tensors) expect_same(t, b.tensors[name], name);
}

}  // namespace
}  // namespace kinema
