// The shipped default model (models/default): the bundle loads with every SHA-256 right, meets
// the shape requirements and size budget, and generates deterministically. Quality is
// measured by `kinema scorecard` (docs/model-card.md), not here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>

#include "kinema/pipeline.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

const std::string kDir = KINEMA_DEFAULT_MODEL_DIR;

TEST(DefaultModel, LoadsWithEveryChecksumAndFitsTheBudget) {
  Pipeline p = Pipeline::load(kDir);
  const ModelManifest& m = p.manifest();
  EXPECT_EQ(m.name, "kinema-default");
  ASSERT_GE(m.sizes.size(), 3u);  // at least three aspect ratios
  std::set<std::pair<int, int>> ratios;  // w:h in lowest terms
  for (const auto& [w, h] : m.sizes) {
    EXPECT_GE(std::min(w, h), 96);
    EXPECT_GE(std::max(w, h), 128);
    ratios.insert({w / std::gcd(w, h), h / std::gcd(w, h)});
  }
  EXPECT_GE(ratios.size(), 3u);
  EXPECT_GE(double(m.frames) / double(m.fps), 2.0);  // >= 2 s
  EXPECT_GE(m.fps, 12);
  uintmax_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(kDir))
    if (e.is_regular_file()) bytes += e.file_size();
  EXPECT_LE(bytes, 100u << 20) << "models/default must stay within 100 MB";
}

TEST(DefaultModel, GeneratesTheSameImageFromTheSameSeed) {
  Pipeline p = Pipeline::load(kDir);
  GenerateRequest r;
  r.prompt = "a red circle on a blue background", r.frames = 1, r.steps = 2, r.seed = 3, r.threads = 1;
  GenerateResult a = p.generate(r), b = p.generate(r);
  ASSERT_EQ(a.frames.size(), 1u);
  EXPECT_EQ(a.frames[0].width, p.manifest().sizes[0].first);
  EXPECT_EQ(a.frames[0].rgb, b.frames[0].rgb);
  EXPECT_TRUE(a.expanded);
}

// Resident kB of this process's mappings of files whose path ends with `suffix` (/proc/self/smaps).
int64_t resident_kb_of(const std::string& suffix) {
  std::ifstream in("/proc/self/smaps");
  int64_t kb = 0;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    const std::string first = line.substr(0, line.find(' '));
    const bool header = first.find('-') != std::string::npos && first.back() != ':';  // "lo-hi perms ..."
    if (header)
      inside = line.size() >= suffix.size() && line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0;
    else if (inside && line.rfind("Rss:", 0) == 0)
      kb += std::stoll(line.substr(4));
  }
  return kb;
}

TEST(DefaultModel, TextEncoderPagesStopCountingOnceThePromptIsEncoded) {
  Pipeline p = Pipeline::load(kDir);
  const int64_t file_kb = int64_t(fs::file_size(fs::path(kDir) / "text_encoder.safetensors") / 1024);
  double touched = 0;  // read every weight through its mapping, as encoding a prompt does
  for (const auto& [name, w] : p.text_encoder().weights()) touched += double(w.to_vector()[0]);
  ASSERT_TRUE(std::isfinite(touched));
  ASSERT_GT(resident_kb_of("text_encoder.safetensors"), file_kb / 2);
  GenerateRequest r;
  r.prompt = "a red circle on a blue background", r.frames = 1, r.steps = 1, r.seed = 3, r.threads = 1;
  p.generate(r);
  EXPECT_LT(resident_kb_of("text_encoder.safetensors"), file_kb / 10) << "of " << file_kb << " kB";
  // and the next request reads them back from the page cache
  EXPECT_EQ(p.generate(r).frames[0].rgb, p.generate(r).frames[0].rgb);
}

}  // namespace
}  // namespace kinema
