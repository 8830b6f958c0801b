// Hostile input: the fuzzers' crashers (tests/io/fuzz_regressions) and seeds stay fixed as
// regression cases. Each must end in frames or a kinema::Error naming the file, never a crash.
#include <gtest/gtest.h>

#include <filesystem>

#include "io_test_util.hpp"
#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"

namespace kinema {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> files_in(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(KINEMA_SOURCE_DIR) + "/tests/io/" + dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Hostile, ReaderCrashersAndSeedsEndInFramesOrAClearError) {
  auto files = files_in("fuzz_regressions", "reader-");
  auto seeds = files_in("fuzz_corpus/reader", "");
  files.insert(files.end(), seeds.begin(), seeds.end());
  ASSERT_GE(files.size(), 2u);
  for (const auto& f : files) {
    VideoReadOptions o;
    o.max_pixels = 1 << 20, o.max_frames = 64, o.timeout_s = 5;  // as in the fuzz target
    try {
      read_video(f, o);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }
}

TEST(Hostile, C2paCrashersAndSeedsVerifyWithoutCrashing) {
  // Fuzz input layout: byte 0 picks the container (png, jpg, mp4, sidecar), the rest is the file.
  auto files = files_in("fuzz_regressions", "c2pa-");
  auto seeds = files_in("fuzz_corpus/c2pa", "");
  files.insert(files.end(), seeds.begin(), seeds.end());
  ASSERT_GE(files.size(), 2u);
  test::TempDir dir;
  const char* ext[] = {".png", ".jpg", ".mp4", ".webm"};
  for (const auto& f : files) {
    auto bytes = test::read_bytes(f);
    ASSERT_FALSE(bytes.empty()) << f;
    std::string path = dir.file("case" + std::string(ext[bytes[0] % 4]));
    std::vector<uint8_t> body(bytes.begin() + 1, bytes.end());
    test::write_bytes(path, body);
    if (bytes[0] % 4 == 3) test::write_bytes(sidecar_path(path), body);
    try {
      verify_file(path, {dir.file("config")});
    } catch (const Error&) {
    }
    fs::remove(sidecar_path(path));
  }
}

TEST(Hostile, SeedsSignedByKinemaStillVerify) {
  // The C2PA seeds were signed by an older local identity: valid signatures, untrusted here.
  test::TempDir dir;
  auto bytes = test::read_bytes(files_in("fuzz_corpus/c2pa", "seed_0")[0]);
  std::string path = dir.file("seed.png");
  test::write_bytes(path, std::vector<uint8_t>(bytes.begin() + 1, bytes.end()));
  VerifyReport r = verify_file(path, {dir.file("config")});
  EXPECT_EQ(r.status, CredentialStatus::valid) << (r.failures.empty() ? "" : r.failures[0]);
  EXPECT_FALSE(r.trusted);
}

}  // namespace
}  // namespace kinema
