// Parity of kinema's frame classifier with nsfwjs on @tensorflow/tfjs's CPU backend (issue 9):
// tests/frame_review/reference.mjs (run by node, once per build tree) decodes >= 20 images to PPM
// and writes nsfwjs's probabilities; kinema classifies the same pixels and must agree within 1e-3
// on every class of every image.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kinema/frame_review.hpp"
#include "kinema/ops.hpp"

using namespace kinema;
namespace fs = std::filesystem;

namespace {

struct Ppm {
  int64_t w = 0, h = 0;
  std::vector<uint8_t> rgb;
};

Ppm read_ppm(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::string magic;
  int maxval = 0;
  Ppm out;
  f >> magic >> out.w >> out.h >> maxval;
  f.get();
  EXPECT_EQ(magic, "P6") << p;
  EXPECT_EQ(maxval, 255) << p;
  out.rgb.resize(size_t(out.w * out.h * 3));
  f.read(reinterpret_cast<char*>(out.rgb.data()), std::streamsize(out.rgb.size()));
  EXPECT_TRUE(bool(f)) << p;
  return out;
}

fs::path reference_dir() {
  const fs::path dir = fs::path(KINEMA_BINARY_DIR) / "frame_review_reference";
  if (!fs::exists(dir / "reference.tsv")) {
    const std::string cmd = std::string("OMP_NUM_THREADS=1 \"") + KINEMA_NODE + "\" \"" + KINEMA_SOURCE_DIR +
                            "/tests/frame_review/reference.mjs\" \"" + dir.string() + "\" 24 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  return dir;
}

}  // namespace

TEST(FrameReview, ProbabilitiesSumToOne) {
  FrameClassifier fc = FrameClassifier::load_default();
  EXPECT_EQ(fc.input_size(), 224);
  std::vector<uint8_t> grey(64 * 48 * 3, 128);
  auto p = fc.classify({64, 48, grey.data()});
  float s = 0;
  for (float v : p) s += v;
  EXPECT_NEAR(s, 1.f, 1e-5f);
  EXPECT_STREQ(nsfw_class_name(NsfwClass::sexy), "Sexy");
}

TEST(FrameReview, MatchesNsfwjsOnTfjsCpu) {
  FrameClassifier fc = FrameClassifier::load_default();
  const fs::path dir = reference_dir();
  std::ifstream tsv(dir / "reference.tsv");
  ASSERT_TRUE(tsv) << dir;
  std::string line;
  int images = 0;
  double worst = 0;
  while (std::getline(tsv, line)) {
    std::istringstream ls(line);
    std::string name, source;
    std::getline(ls, name, '\t');
    std::getline(ls, source, '\t');
    std::array<float, kNsfwClasses> want{};
    for (float& v : want) ls >> v;
    ASSERT_TRUE(bool(ls)) << line;
    Ppm img = read_ppm(dir / (name + ".ppm"));
    auto got = fc.classify({img.w, img.h, img.rgb.data()});
    double diff = 0;
    for (int c = 0; c < kNsfwClasses; ++c) diff = std::max(diff, double(std::fabs(got[c] - want[c])));
    worst = std::max(worst, diff);
    std::printf("%s %4lldx%-4lld max|diff| %.2e  %s\n", name.c_str(), (long long)img.w, (long long)img.h, diff,
                source.c_str());
    for (int c = 0; c < kNsfwClasses; ++c)
      EXPECT_NEAR(got[c], want[c], 1e-3) << source << " class " << nsfw_class_name(NsfwClass(c));
    ++images;
  }
  std::printf("parity: %d images, worst max|diff| %.2e\n", images, worst);
  EXPECT_GE(images, 20);
}
