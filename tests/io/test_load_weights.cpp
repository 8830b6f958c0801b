// load_weights picks the reader by content, not by file name: safetensors, a sharded index,
// GGUF, a PyTorch zip checkpoint, a directory holding one of them; anything else is an error
// that says what the file looks like.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "io_test_util.hpp"
#include "kinema/error.hpp"
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
