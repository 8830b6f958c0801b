// Hostile GGUF files (issue 8): each is rejected with an Error that says what was wrong, never
// a crash or an allocation sized by a lying header. Files are built byte by byte here.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "io_test_util.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/weights.hpp"

namespace kinema {
namespace {

// A GGUF file as bytes: the header's fields in order, each appended by hand.
struct Bytes {
  std::vector<uint8_t> b;
  Bytes& u8(uint8_t v) { b.push_back(v); return *this; }
  Bytes& u32(uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> 8 * i)); return *this; }
  Bytes& u64(uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> 8 * i)); return *this; }
  Bytes& str(const std::string& s) { u64(s.size()); b.insert(b.end(), s.begin(), s.end()); return *this; }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    b.insert(b.end(), {'G', 'G', 'U', 'F'});
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  // A tensor info: dims innermost first.
  Bytes& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32(uint32_t(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  Bytes& pad(size_t alignment = 32) { while (b.size() % alignment) b.push_back(0); return *this; }
  Bytes& zeros(size_t n) { b.insert(b.end(), n, 0); return *this; }
};

constexpr uint32_t kF32 = 0, kQ8_0 = 8, kString = 8, kArray = 9, kU32 = 4, kU64 = 10;

std::string load_error(const std::string& path, const WeightLoadOptions& o = {}) {
  try {
    load_gguf(path, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Writes the bytes and expects an Error whose message names `what`.
void expect_rejected(const Bytes& bytes, const std::string& what) {
  test::TempDir dir;
  test::write_bytes(dir.file("h.gguf"), bytes.b);
  std::string msg = load_error(dir.file("h.gguf"));
  EXPECT_NE(msg, "") << "accepted a file that should fail with: " << what;
  EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg;
  EXPECT_NE(msg.find("[gguf]"), std::string::npos) << msg;
}

Bytes one_f32_tensor(uint64_t offset = 0, std::vector<uint64_t> dims = {8}, uint32_t type = kF32) {
  Bytes b;
  b.header(1, 0).tensor("t", dims, type, offset).pad().zeros(32);
  return b;
}

TEST(GgufHostile, ValidBaselineLoads) {
  test::TempDir dir;
  test::write_bytes(dir.file("ok.gguf"), one_f32_tensor().b);
  EXPECT_EQ(load_gguf(dir.file("ok.gguf")).tensors.at("t").shape(), Shape{8});
}

TEST(GgufHostile, EveryTruncationIsAnError) {
  test::TempDir dir;
  TensorFile f;
  f.tensors["a"] = cast(Tensor::full({2, 32}, 1.f), DType::q8_0);
  f.tensors["b"] = Tensor::full({3}, 2.f, DType::bf16);
  f.tensors["z"] = Tensor::full({8}, 3.f);  // 32 bytes last: no trailing padding to cut harmlessly
  f.metadata["general.name"] = "truncate me";
  f.metadata["x"] = "y";
  save_gguf(dir.file("full.gguf"), f);
  auto bytes = test::read_bytes(dir.file("full.gguf"));
  ASSERT_NO_THROW(load_gguf(dir.file("full.gguf")));
  int rejected = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    test::write_bytes(dir.file("cut.gguf"), std::vector<uint8_t>(bytes.begin(), bytes.begin() + n));
    std::string msg = load_error(dir.file("cut.gguf"));
    EXPECT_NE(msg, "") << "accepted the first " << n << " of " << bytes.size() << " bytes";
    rejected += !msg.empty();
  }
  EXPECT_EQ(rejected, int(bytes.size()));
}

TEST(GgufHostile, HeaderAndCounts) {
  Bytes magic;
  magic.b = {'G', 'G', 'M', 'L', 3, 0, 0, 0};
  expect_rejected(magic, "not a GGUF file");
  expect_rejected(Bytes().header(0, 0, 1), "GGUF v1");
  expect_rejected(Bytes().header(0, 0, 4), "version 4");
  expect_rejected(Bytes().header(0, 0, 0x03000000), "big-endian");
  expect_rejected(Bytes().header(uint64_t(1) << 60, 0), "cannot hold that many");
  expect_rejected(Bytes().header(0, uint64_t(1) << 60), "cannot hold that many");
  expect_rejected(Bytes().header(0, ~uint64_t(0)), "cannot hold that many");
}

TEST(GgufHostile, StringsAndValues) {
  expect_rejected(Bytes().header(0, 1).u64(uint64_t(1) << 62).zeros(16), "key-value 0: key at byte 32 needs");
  expect_rejected(Bytes().header(0, 1).u64(100).zeros(20), "truncated");
  expect_rejected(Bytes().header(0, 1).str("k").u32(kString).u64(~uint64_t(0)).zeros(8), "key 'k': string");
  expect_rejected(Bytes().header(0, 1).str("k").u32(13).u32(0), "value type 13");
  expect_rejected(Bytes().header(0, 1).str("k").u32(0xffffffffu).u32(0), "value type 4294967295");
  expect_rejected(Bytes().header(0, 1).str("k").u32(kArray).u32(kU64).u64(uint64_t(1) << 62).zeros(64),
                  "cannot fit");
  expect_rejected(Bytes().header(0, 1).str("k").u32(kArray).u32(kString).u64(2).str("a").u64(50).zeros(10),
                  "truncated");
  expect_rejected(Bytes().header(0, 1).str("k").u32(kArray).u32(42).u64(0), "value type 42");
  Bytes deep;
  deep.header(0, 1).str("k").u32(kArray);
  for (int i = 0; i < 6; ++i) deep.u32(kArray).u64(1);
  deep.u32(kU32).u64(1).u32(7);
  expect_rejected(deep, "nests arrays deeper");
  expect_rejected(Bytes().header(0, 2).str("k").u32(kU32).u32(1).str("k").u32(kU32).u32(2), "'k' appears twice");
  expect_rejected(Bytes().header(0, 1).str("general.alignment").u32(kU32).u32(48), "power of two");
  expect_rejected(Bytes().header(0, 1).str("general.alignment").u32(kU32).u32(0), "power of two");
  expect_rejected(Bytes().header(0, 1).str("general.alignment").u32(kU64).u64(32), "must be a u32");
}

TEST(GgufHostile, TensorInfos) {
  auto with = [](std::vector<uint64_t> dims, uint32_t type = kF32, uint64_t offset = 0) {
    Bytes b;
    b.header(1, 0).tensor("t", dims, type, offset).pad().zeros(64);
    return b;
  };
  expect_rejected(with({}), "has 0 dimensions");
  expect_rejected(with({1, 1, 1, 1, 1}), "has 5 dimensions");
  Bytes many;
  many.header(1, 0).str("t").u32(0xffffffffu).zeros(64);
  expect_rejected(many, "has 4294967295 dimensions");
  expect_rejected(with({uint64_t(1) << 32, uint64_t(1) << 32}), "overflows int64");
  expect_rejected(with({uint64_t(1) << 63}), "overflows int64");
  expect_rejected(with({0, uint64_t(1) << 63}), "overflows int64");
  expect_rejected(with({uint64_t(1) << 40, 1 << 20}), "needs more bytes than the whole");
  expect_rejected(with({8}, 99), "unknown ggml type 99");
  expect_rejected(with({256}, 10), "q2_K (ggml type 10), which kinema does not read");
  expect_rejected(with({32}, 4), "unknown ggml type 4");
  expect_rejected(with({32}, 16), "iq2_xxs");
  expect_rejected(with({16}, kQ8_0), "multiple of its block of 32");
  expect_rejected(with({8}, kF32, 4), "not a multiple of the alignment 32");
  expect_rejected(with({8}, kF32, 64), "needs 32 bytes at data offset 64, but the data section holds 64");
  expect_rejected(with({8}, kF32, uint64_t(1) << 63), "the file is truncated or the offset is wrong");
  expect_rejected(with({24}), "needs 96 bytes at data offset 0");
  Bytes empty_name;
  empty_name.header(1, 0).tensor("", {8}, kF32, 0).pad().zeros(32);
  expect_rejected(empty_name, "empty name");
  Bytes long_name;
  long_name.header(1, 0).u64(1000).zeros(40);
  expect_rejected(long_name, "tensor info 0: name at byte 32 needs 1000 bytes");
}

TEST(GgufHostile, LayoutOfTheDataSection) {
  Bytes dup;
  dup.header(2, 0).tensor("t", {8}, kF32, 0).tensor("t", {8}, kF32, 32).pad().zeros(64);
  expect_rejected(dup, "tensor 't' appears twice");
  Bytes overlap;
  overlap.header(2, 0).tensor("a", {16}, kF32, 0).tensor("b", {8}, kF32, 32).pad().zeros(64);
  expect_rejected(overlap, "'a' and 'b' overlap");
  Bytes no_data;  // infos end exactly where the file does, so the aligned data start is past it
  no_data.header(1, 0).tensor("t", {0}, kF32, 0);
  if (no_data.b.size() % 32 == 0) no_data.u8(0);
  expect_rejected(no_data, "past the end");
  Bytes aligned64;  // with alignment 64, offset 32 is misaligned
  aligned64.header(1, 1).str("general.alignment").u32(kU32).u32(64).tensor("t", {8}, kF32, 32).pad(64).zeros(64);
  expect_rejected(aligned64, "not a multiple of the alignment 64");
}

TEST(GgufHostile, OrigShapeMustHoldTheTensor) {
  auto with = [](Bytes value) {
    Bytes b;
    b.header(1, 1).str("comfy.gguf.orig_shape.t");
    b.b.insert(b.b.end(), value.b.begin(), value.b.end());
    b.tensor("t", {8}, kF32, 0).pad().zeros(32);
    return b;
  };
  constexpr uint32_t kI32 = 5;
  expect_rejected(with(Bytes().u32(kArray).u32(kI32).u64(2).u32(3).u32(3)), "tensor 't' [8]");
  expect_rejected(with(Bytes().u32(kArray).u32(kI32).u64(1).u32(0xffffffffu)), "expected 1 to 8 dimensions");
  expect_rejected(with(Bytes().u32(kArray).u32(kI32).u64(0)), "expected 1 to 8 dimensions");
  expect_rejected(with(Bytes().u32(kString).str("[2,4]x")), "is [2,4]x");
  Bytes big;  // 2^62 x 2^62 overflows before the product is compared
  big.u32(kArray).u32(kU64).u64(2).u64(uint64_t(1) << 62).u64(uint64_t(1) << 62);
  expect_rejected(with(big), "expected 1 to 8 dimensions");
  test::TempDir dir;
  test::write_bytes(dir.file("ok.gguf"), with(Bytes().u32(kArray).u32(kI32).u64(2).u32(2).u32(4)).b);
  TensorFile f = load_gguf(dir.file("ok.gguf"));
  EXPECT_EQ(f.tensors.at("t").shape(), (Shape{2, 4}));
  EXPECT_TRUE(f.metadata.empty());
}

TEST(GgufHostile, OptionsAndMissingFiles) {
  test::TempDir dir;
  test::write_bytes(dir.file("ok.gguf"), one_f32_tensor().b);
  EXPECT_NE(load_error(dir.file("ok.gguf"), {DType::f16}).find("must be f32 or bf16"), std::string::npos);
  EXPECT_NE(load_error(dir.file("missing.gguf")).find("cannot open"), std::string::npos);
  EXPECT_NE(load_error(dir.path).find("[gguf]"), std::string::npos) << "a directory";
}

// Seeds (tests/io/fuzz_corpus/gguf) and crashers (fuzz_regressions/gguf-*) from fuzz_gguf:
// each loads or throws Error.
TEST(GgufHostile, FuzzSeedsAndRegressions) {
  namespace fs = std::filesystem;
  const fs::path io = fs::path(KINEMA_SOURCE_DIR) / "tests" / "io";
  int files = 0;
  for (const fs::path& d : {io / "fuzz_corpus" / "gguf", io / "fuzz_regressions"}) {
    if (!fs::is_directory(d)) continue;
    for (const auto& e : fs::directory_iterator(d)) {
      if (d.filename() == "fuzz_regressions" && e.path().filename().string().rfind("gguf-", 0) != 0) continue;
      ++files;
      try {
        load_gguf(e.path().string());
      } catch (const Error&) {
      }
    }
  }
  EXPECT_GT(files, 0);
}

}  // namespace
}  // namespace kinema
