// `kinema convert` (issue 8): safetensors/GGUF -> GGUF with matrices quantized; round trips and
// the quantization error bounds.
#include <gtest/gtest.h>

#include <cmath>

#include "io_test_util.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/weights.hpp"

namespace kinema::cli {
int cmd_convert(int argc, char** argv);
}

namespace kinema {
namespace {

int convert(std::vector<std::string> args) {
  args.insert(args.begin(), "convert");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_convert(int(argv.size()), argv.data());
}

Tensor gaussian_like(const Shape& shape, uint32_t seed) {
  std::vector<float> v(size_t(shape_numel(shape)));
  uint32_t s = seed;
  for (size_t i = 0; i < v.size(); i += 2) {  // Box-Muller over an LCG
    s = s * 1664525u + 1013904223u;
    float u1 = (float(s >> 8) + 1.f) / float(1 << 24);
    s = s * 1664525u + 1013904223u;
    float u2 = float(s >> 8) / float(1 << 24);
    float r = std::sqrt(-2.f * std::log(u1));
    v[i] = r * std::cos(6.2831853f * u2) * 0.05f;
    if (i + 1 < v.size()) v[i + 1] = r * std::sin(6.2831853f * u2) * 0.05f;
  }
  return Tensor::from_vector(v, shape);
}

TensorFile checkpoint() {
  TensorFile f;
  f.tensors["blocks.0.attn.q.weight"] = gaussian_like({64, 128}, 1);
  f.tensors["blocks.0.ffn.0.weight"] = cast(gaussian_like({2, 96, 64}, 2), DType::bf16);
  f.tensors["blocks.0.attn.q.bias"] = gaussian_like({64}, 3);
  f.tensors["patch_embedding.weight"] = gaussian_like({16, 4, 1, 2, 2}, 4);
  f.tensors["odd.weight"] = gaussian_like({3, 20}, 5);
  f.metadata["config"] = R"({"dim": 64})";
  return f;
}

// max |a - b| / max |a| over a tensor.
double relative_error(const Tensor& ref, const Tensor& got) {
  std::vector<float> a = ref.to_vector(), b = got.to_vector();
  EXPECT_EQ(a.size(), b.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    err = std::max(err, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(a[i])));
  }
  return err / scale;
}

TEST(Convert, QuantizesMatricesOnlyWithinTheTypesErrorBound) {
  test::TempDir dir;
  TensorFile src = checkpoint();
  save_tensors(dir.file("in.safetensors"), src);
  for (auto [type, bound] : {std::pair{"q8_0", 1.0 / 254 + 1e-3}, {"q4_0", 1.0 / 8}, {"bf16", 1.0 / 256},
                             {"f16", 1.0 / 1024}, {"f32", 0.0}}) {
    SCOPED_TRACE(type);
    std::string out = dir.file(std::string(type) + ".gguf");
    ASSERT_EQ(convert({dir.file("in.safetensors"), out, "--type", type}), 0);
    TensorFile g = load_gguf(out);
    EXPECT_EQ(g.metadata, src.metadata);
    ASSERT_EQ(g.tensors.size(), src.tensors.size());
    const DType want = dtype_from_name(type);
    EXPECT_EQ(g.tensors["blocks.0.attn.q.weight"].dtype(), want);
    EXPECT_EQ(g.tensors["blocks.0.ffn.0.weight"].dtype(), want);
    EXPECT_EQ(g.tensors["blocks.0.attn.q.bias"].dtype(), DType::f32);
    EXPECT_EQ(g.tensors["patch_embedding.weight"].dtype(), DType::f32) << "inner dim 2";
    EXPECT_EQ(g.tensors["odd.weight"].dtype(), DType::f32) << "inner dim 20";
    for (const auto& [name, t] : src.tensors) {
      EXPECT_EQ(g.tensors[name].shape(), t.shape()) << name;
      double e = relative_error(t, g.tensors[name]);
      // bf16 inputs are exact in every wider type; f32 non-matrices are kept exactly.
      double b = t.dtype() == DType::bf16 && want != DType::q8_0 && want != DType::q4_0 ? 0.0 : bound;
      if (g.tensors[name].dtype() == DType::f32) b = 0.0;
      EXPECT_LE(e, b) << name;
      if (name == "blocks.0.attn.q.weight" && want == DType::q8_0) {
        EXPECT_GT(e, 0.0) << "quantized at all";
      }
    }
  }
}

TEST(Convert, GgufInputRoundTripsAndQuantizedMatricesAreCopiedAsIs) {
  test::TempDir dir;
  save_tensors(dir.file("in.safetensors"), checkpoint());
  ASSERT_EQ(convert({dir.file("in.safetensors"), dir.file("a.gguf")}), 0) << "default --type q8_0";
  ASSERT_EQ(convert({dir.file("a.gguf"), dir.file("b.gguf"), "--type", "q8_0"}), 0);
  TensorFile a = load_gguf(dir.file("a.gguf")), b = load_gguf(dir.file("b.gguf"));
  EXPECT_EQ(a.tensors["blocks.0.attn.q.weight"].dtype(), DType::q8_0);
  EXPECT_EQ(a.metadata, b.metadata);
  for (const auto& [name, t] : a.tensors) {
    ASSERT_EQ(b.tensors[name].dtype(), t.dtype()) << name;
    EXPECT_EQ(relative_error(t, b.tensors[name]), 0.0) << name;
  }
  EXPECT_EQ(test::read_bytes(dir.file("a.gguf")), test::read_bytes(dir.file("b.gguf")));
  // To f32: the q8_0 values come back exactly, dequantized.
  ASSERT_EQ(convert({dir.file("a.gguf"), dir.file("c.gguf"), "--type", "f32"}), 0);
  TensorFile c = load_gguf(dir.file("c.gguf"));
  EXPECT_EQ(c.tensors["blocks.0.attn.q.weight"].dtype(), DType::f32);
  EXPECT_EQ(relative_error(a.tensors["blocks.0.attn.q.weight"], c.tensors["blocks.0.attn.q.weight"]), 0.0);
}

TEST(Convert, UsageAndErrors) {
  test::TempDir dir;
  EXPECT_EQ(convert({"--help"}), 0);
  EXPECT_EQ(convert({}), 2);
  EXPECT_EQ(convert({"only-one"}), 2);
  EXPECT_EQ(convert({"a", "b", "--bogus"}), 2);
  save_tensors(dir.file("in.safetensors"), checkpoint());
  EXPECT_THROW(convert({dir.file("in.safetensors"), dir.file("x.gguf"), "--type", "q5_K"}), Error);
  EXPECT_THROW(convert({dir.file("missing.safetensors"), dir.file("x.gguf")}), Error);
}

}  // namespace
}  // namespace kinema
