// load_pth against checkpoints written by the installed PyTorch (tests/io/pth_reference.py runs
// at test time): values compared bit for bit with what the script says kinema must return, and
// hostile files (code-running pickles, bad views, broken zips) each rejected with an Error.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "io_test_util.hpp"
#include "pth_fuzz_input.hpp"
#include "kinema/error.hpp"
#include "kinema/weights.hpp"

namespace kinema {
namespace {

struct Fixtures {
  test::TempDir dir;
  nlohmann::json hostile;
  std::string error;
  Fixtures() {
    int status = 0;
    std::string log = test::run_command(std::string(KINEMA_PYTHON) + " " + KINEMA_SOURCE_DIR +
                                            "/tests/io/pth_reference.py " + dir.path + " 2>&1",
                                        &status);
    if (status != 0) {
      error = "pth_reference.py failed (" + std::to_string(status) + "):\n" + log;
      return;
    }
    std::ifstream f(dir.file("hostile.json"));
    hostile = nlohmann::json::parse(f);
  }
};

const Fixtures& fixtures() {
  static Fixtures f;
  return f;
}

#define REQUIRE_FIXTURES()                                   \
  do {                                                       \
    if (!fixtures().error.empty()) FAIL() << fixtures().error; \
  } while (0)

// Same names, dtypes, shapes and bytes; same metadata.
void expect_same(const TensorFile& got, const TensorFile& want, const std::string& what) {
  for (const auto& [name, w] : want.tensors) {
    auto it = got.tensors.find(name);
    if (it == got.tensors.end()) {
      ADD_FAILURE() << what << ": missing tensor '" << name << "'";
      continue;
    }
    const Tensor& g = it->second;
    EXPECT_EQ(dtype_name(g.dtype()), dtype_name(w.dtype())) << what << ": " << name;
    EXPECT_EQ(shape_str(g.shape()), shape_str(w.shape())) << what << ": " << name;
    if (g.dtype() != w.dtype() || g.shape() != w.shape()) continue;
    ASSERT_TRUE(g.is_contiguous()) << what << ": " << name;
    size_t bytes = size_t(w.numel()) * block_bytes(w.dtype());
    EXPECT_EQ(std::memcmp(g.raw_data(), w.raw_data(), bytes), 0) << what << ": '" << name << "' differs";
  }
  for (const auto& [name, g] : got.tensors)
    EXPECT_TRUE(want.tensors.count(name)) << what << ": unexpected tensor '" << name << "'";
  EXPECT_EQ(got.metadata, want.metadata) << what;
}

TEST(Pth, MatchesPyTorch) {
  REQUIRE_FIXTURES();
  const char* cases[] = {"views", "protocol4", "nested_model", "nested_state_dict", "nested_module",
                         "parameters", "bare_tensor", "big_endian", "overlap", "zip64"};
  for (const char* c : cases) {
    SCOPED_TRACE(c);
    TensorFile got = load_pth(fixtures().dir.file(std::string(c) + ".pth"));
    TensorFile want = load_tensors(fixtures().dir.file(std::string(c) + ".expected.safetensors"));
    EXPECT_FALSE(got.tensors.empty());
    expect_same(got, want, c);
  }
}

TEST(Pth, DtypesAndViews) {
  REQUIRE_FIXTURES();
  TensorFile f = load_pth(fixtures().dir.file("views.pth"));
  EXPECT_EQ(f.tensors.at("f32").dtype(), DType::f32);
  EXPECT_EQ(f.tensors.at("f16.t").dtype(), DType::f16);
  EXPECT_EQ(f.tensors.at("bf16.slice").dtype(), DType::bf16);
  EXPECT_EQ(f.tensors.at("f64").dtype(), DType::f32);  // f64 is converted
  EXPECT_EQ(shape_str(f.tensors.at("f32.perm").shape()), "[8, 2, 3]");
  EXPECT_EQ(shape_str(f.tensors.at("scalar").shape()), "[]");
  EXPECT_EQ(f.tensors.at("scalar").item(), 3.25f);
  // A transposed view holds the same values as the original, read column-wise.
  auto base = f.tensors.at("f32").to_vector(), t = f.tensors.at("f32.t").to_vector();
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 8; ++c) ASSERT_EQ(t[c * 6 + r], base[r * 8 + c]);
  EXPECT_FALSE(f.tensors.count("ids"));  // int64: skipped, noted in metadata
  EXPECT_EQ(f.metadata.at("pth.skipped.ids"), "int64 [7]: kinema has no integer/bool/complex dtype");
}

TEST(Pth, HostileFilesAreErrors) {
  REQUIRE_FIXTURES();
  ASSERT_GE(fixtures().hostile.size(), 30u);
  for (const auto& [name, phrase] : fixtures().hostile.items()) {
    std::string path = fixtures().dir.file("hostile/" + name + ".pth");
    try {
      load_pth(path);
      ADD_FAILURE() << name << ": loaded without an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(phrase.get<std::string>()), std::string::npos)
          << name << ": expected '" << phrase.get<std::string>() << "' in: " << e.what();
      std::printf("  %-22s %s\n", name.c_str(), e.what());
    }
  }
}

// Every load of a damaged file either succeeds (a byte in tensor data) or throws Error.
int count_errors(const std::string& path, const std::vector<uint8_t>& bytes) {
  test::write_bytes(path, bytes);
  try {
    load_pth(path);
    return 0;
  } catch (const Error&) {
    return 1;
  }
}

TEST(Pth, TruncatedArchivesAreErrors) {
  REQUIRE_FIXTURES();
  auto bytes = test::read_bytes(fixtures().dir.file("views.pth"));
  std::string path = fixtures().dir.file("cut.pth");
  int cuts = 0, errors = 0;
  for (size_t n = 0; n < bytes.size(); n += (n + 200 < bytes.size() ? 37 : 1), ++cuts)
    errors += count_errors(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + n));
  EXPECT_EQ(errors, cuts) << "every truncation of " << bytes.size() << " bytes must be an Error";
}

uint64_t get_le(const std::vector<uint8_t>& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t(b[at + i]) << (8 * i);
  return v;
}
void put_le(std::vector<uint8_t>& b, size_t at, int n, uint64_t v) {
  for (int i = 0; i < n; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// Offset of the central directory header of `name` (the last occurrence of the name).
size_t central_entry(const std::vector<uint8_t>& b, const std::string& name) {
  std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  size_t at = s.rfind(name);
  EXPECT_NE(at, std::string_view::npos);
  EXPECT_EQ(get_le(b, at - 46, 4), 0x02014b50u);
  return at - 46;
}

std::string load_error(const std::string& path, const std::vector<uint8_t>& bytes) {
  test::write_bytes(path, bytes);
  try {
    load_pth(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

TEST(Pth, BrokenZipRecordsAreErrors) {
  REQUIRE_FIXTURES();
  // overlap.pth: written by Python's zipfile (classic end record, no comment).
  const auto good = test::read_bytes(fixtures().dir.file("overlap.pth"));
  const size_t end = good.size() - 22;
  ASSERT_EQ(get_le(good, end, 4), 0x06054b50u);
  std::string path = fixtures().dir.file("broken.pth");
  struct Case {
    const char* what;
    const char* phrase;
    std::function<void(std::vector<uint8_t>&)> edit;
  };
  const Case cases[] = {
      {"directory past the end", "central directory",
       [&](auto& b) { put_le(b, end + 16, 4, good.size() + 1000); }},
      {"directory size past the end", "central directory",
       [&](auto& b) { put_le(b, end + 12, 4, 0x7fffffff); }},
      {"too many entries", "cannot fit", [&](auto& b) { put_le(b, end + 10, 2, 0xfffe); }},
      {"entry size past the end", "runs past the data area",
       [&](auto& b) {
         size_t c = central_entry(b, "archive/data/0");
         put_le(b, c + 20, 4, 0x7ffffff0);
         put_le(b, c + 24, 4, 0x7ffffff0);
       }},
      {"local header past the end", "local header",
       [&](auto& b) { put_le(b, central_entry(b, "archive/data/0") + 42, 4, 0x7ffffff0); }},
      {"local header elsewhere", "no local header",
       [&](auto& b) { put_le(b, central_entry(b, "archive/data/0") + 42, 4, 3); }},
      {"zip64 sizes without extra", "no zip64 extra field",
       [&](auto& b) { put_le(b, central_entry(b, "archive/data/0") + 24, 4, 0xffffffff); }},
      {"zip64 end record without locator", "no zip64 locator",
       [&](auto& b) { put_le(b, end + 16, 4, 0xffffffff); }},
      {"encrypted", "encrypted", [&](auto& b) { put_le(b, central_entry(b, "archive/data.pkl") + 8, 2, 1); }},
      {"no end record", "no end-of-central-directory", [&](auto& b) { put_le(b, end, 4, 0); }},
  };
  for (const Case& c : cases) {
    auto b = good;
    c.edit(b);
    std::string msg = load_error(path, b);
    EXPECT_NE(msg.find(c.phrase), std::string::npos) << c.what << ": " << msg;
  }
  // torch.save's own archives end with zip64 records: point them outside the file.
  const auto torch_zip = test::read_bytes(fixtures().dir.file("views.pth"));
  const size_t end64_locator = torch_zip.size() - 22 - 20;
  ASSERT_EQ(get_le(torch_zip, end64_locator, 4), 0x07064b50u);
  auto b = torch_zip;
  put_le(b, end64_locator + 8, 8, uint64_t(1) << 60);
  EXPECT_NE(load_error(path, b).find("zip64 end record offset"), std::string::npos);
  b = torch_zip;
  size_t end64 = get_le(torch_zip, end64_locator + 8, 8);
  put_le(b, end64 + 48, 8, uint64_t(1) << 40);  // central directory offset
  EXPECT_NE(load_error(path, b).find("central directory"), std::string::npos);
}

TEST(Pth, RandomByteDamageIsNeverACrash) {
  REQUIRE_FIXTURES();
  const auto good = test::read_bytes(fixtures().dir.file("views.pth"));
  std::string path = fixtures().dir.file("damaged.pth");
  std::mt19937 rng(8);
  int errors = 0, runs = 400;
  for (int i = 0; i < runs; ++i) {
    auto b = good;
    for (int k = 0; k < 4; ++k) b[rng() % b.size()] ^= uint8_t(1 + rng() % 255);
    errors += count_errors(path, b);
  }
  std::printf("  %d of %d damaged copies were Errors, the rest loaded\n", errors, runs);
  SUCCEED();
}

// fuzz_pth's seeds and crashers (tests/io/fuzz_regressions/pth-*) stay as regression cases.
TEST(Pth, FuzzSeedsAndCrashersReplay) {
  namespace fs = std::filesystem;
  const std::string io = std::string(KINEMA_SOURCE_DIR) + "/tests/io/";
  int replayed = 0;
  for (const char* dir : {"fuzz_corpus/pth", "fuzz_regressions"})
    for (const auto& e : fs::directory_iterator(io + dir)) {
      if (std::string(dir) == "fuzz_regressions" && e.path().filename().string().rfind("pth-", 0) != 0) continue;
      auto bytes = test::read_bytes(e.path().string());
      SCOPED_TRACE(e.path().string());
      test::run_pth_fuzz_input(bytes.data(), bytes.size());
      ++replayed;
    }
  EXPECT_GE(replayed, 9);
}

}  // namespace
}  // namespace kinema
