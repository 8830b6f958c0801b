// load_weights picks the reader by content, not by file name: safetensors, a sharded index,
// GGUF, a PyTorch zip checkpoint, a directory holding one of them; anything else is an error
// that says what the file looks like.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "io_test_util.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/weights.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

TensorFile sample() {
  TensorFile f;
  f.tensors["a.weight"] = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  f.tensors["b.bias"] = Tensor::from_vector({-1.5f, 0.25f}, {2});
  return f;
}

void expect_sample(const TensorFile& got, const std::string& what) {
  ASSERT_EQ(got.tensors.size(), 2u) << what;
  EXPECT_EQ(got.tensors.at("a.weight").to_vector(), sample().tensors.at("a.weight").to_vector()) << what;
  EXPECT_EQ(got.tensors.at("b.bias").shape(), (Shape{2})) << what;
  EXPECT_EQ(got.tensors.at("b.bias").to_vector(), sample().tensors.at("b.bias").to_vector()) << what;
}

std::string error_of(const std::string& path) {
  try {
    load_weights(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LoadWeights, ChoosesTheReaderByContent) {
  test::TempDir dir;
  // Names that lie about the format: the content decides.
  save_tensors(dir.file("st.bin"), sample());
  expect_sample(load_weights(dir.file("st.bin")), "safetensors");
  save_gguf(dir.file("g.safetensors"), sample());
  expect_sample(load_weights(dir.file("g.safetensors")), "gguf");
  // A sharded index.
  TensorFile a, b;
  a.tensors["a.weight"] = sample().tensors.at("a.weight");
  b.tensors["b.bias"] = sample().tensors.at("b.bias");
  fs::create_directories(dir.file("sharded"));
  save_tensors(dir.file("sharded/m-1.safetensors"), a);
  save_tensors(dir.file("sharded/m-2.safetensors"), b);
  std::ofstream(dir.file("sharded/model.safetensors.index.json"))
      << R"({"weight_map": {"a.weight": "m-1.safetensors", "b.bias": "m-2.safetensors"}})";
  expect_sample(load_weights(dir.file("sharded/model.safetensors.index.json")), "index");
  expect_sample(load_weights(dir.file("sharded")), "directory with an index");
  // torch.save's zip format, written by PyTorch itself.
  int status = 0;
  const std::string log = test::run_command(
      std::string(KINEMA_PYTHON) + " -c \"import torch; torch.save({'a.weight': torch.arange(1., 7.).reshape(2, 3), "
      "'b.bias': torch.tensor([-1.5, 0.25])}, '" + dir.file("ckpt.weights") + "')\" 2>&1", &status);
  ASSERT_EQ(status, 0) << log;
  expect_sample(load_weights(dir.file("ckpt.weights")), "pth");
  fs::create_directories(dir.file("one"));
  fs::copy_file(dir.file("g.safetensors"), dir.file("one/model.gguf"));
  expect_sample(load_weights(dir.file("one")), "directory with one file");
}

// Every format that maps (GGUF in each stored type, safetensors, a sharded index) gives the
// same bytes mapped as read; tensors not aligned to their element size in the file are copies.
TEST(LoadWeights, MappedEqualsReadBitForBit) {
  test::TempDir dir;
  TensorFile f;
  std::vector<float> v(2 * 3 * 64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(int(i * 37 % 101) - 50) / 7.f;
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::q8_0, DType::q4_0})
    f.tensors["w." + std::string(dtype_name(t))] = cast(Tensor::from_vector(v, {2, 3, 64}), t);
  f.tensors["odd"] = Tensor::from_vector({1, 2, 3}, {3}, DType::bf16);  // puts what follows at odd offsets
  save_gguf(dir.file("m.gguf"), f);
  TensorFile st;
  for (const auto& [name, t] : f.tensors)
    if (!is_quantized(t.dtype())) st.tensors[name] = t;
  save_tensors(dir.file("m.safetensors"), st);
  fs::create_directories(dir.file("sharded"));
  save_tensors(dir.file("sharded/m-1.safetensors"), st);
  std::ofstream(dir.file("sharded/model.safetensors.index.json"))
      << R"({"weight_map": {"w.f32": "m-1.safetensors", "w.f16": "m-1.safetensors", "w.bf16": "m-1.safetensors",
         "odd": "m-1.safetensors"}})";
  for (const std::string& path : {dir.file("m.gguf"), dir.file("m.safetensors"), dir.file("sharded")}) {
    WeightLoadOptions mapped, read;
    read.memory = TensorMemory::read;
    const TensorFile a = load_weights(path, mapped), b = load_weights(path, read);
    ASSERT_EQ(a.tensors.size(), b.tensors.size()) << path;
    for (const auto& [name, t] : b.tensors) {
      const Tensor& m = a.tensors.at(name);
      ASSERT_EQ(m.dtype(), t.dtype()) << path << " " << name;
      ASSERT_EQ(m.shape(), t.shape()) << path << " " << name;
      EXPECT_EQ(0, std::memcmp(m.raw_data(), t.raw_data(), t.storage()->nbytes())) << path << " " << name;
      // GGUF aligns every tensor to 32 bytes; in safetensors "odd" leaves w.f32 at an offset of 2 mod 4.
      const bool aligned = path == dir.file("m.gguf") || name != "w.f32";
      EXPECT_EQ(m.storage()->is_mapped(), aligned) << path << " " << name;
      EXPECT_FALSE(t.storage()->is_mapped()) << path << " " << name;
    }
  }
}

TEST(LoadWeights, SaysWhatAFileLooksLike) {
  test::TempDir dir;
  std::ofstream(dir.file("notes.txt")) << "hello, world";
  EXPECT_NE(error_of(dir.file("notes.txt")).find("starts with 68 65 6c 6c"), std::string::npos) << error_of(dir.file("notes.txt"));
  std::ofstream(dir.file("old.bin"), std::ios::binary) << std::string("\x80\x02}q\x00.", 6);
  EXPECT_NE(error_of(dir.file("old.bin")).find("bare pickle"), std::string::npos) << error_of(dir.file("old.bin"));
  EXPECT_NE(error_of(dir.file("absent.gguf")).find("no such file"), std::string::npos);
  std::ofstream(dir.file("empty"));
  EXPECT_NE(error_of(dir.file("empty")).find("(empty)"), std::string::npos) << error_of(dir.file("empty"));
  fs::create_directories(dir.file("two"));
  save_tensors(dir.file("two/a.safetensors"), sample());
  save_tensors(dir.file("two/b.safetensors"), sample());
  EXPECT_NE(error_of(dir.file("two")).find("several weights files"), std::string::npos);
}

}  // namespace
}  // namespace kinema
