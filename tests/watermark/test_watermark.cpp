// kinema's invisible watermark: visual cost, detection after each attack of issue 9 (small
// versions of bench/bench_watermark: 20 videos per attack, 200 unmarked videos), keys, errors,
// and `kinema detect`.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "kinema/c2pa.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "kinema/watermark.hpp"
#include "kinema/world.hpp"

namespace kinema::cli {
int cmd_detect(int argc, char** argv);
}

namespace kinema {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    static int counter = 0;
    path = (fs::temp_directory_path() /
            ("kinema_wm_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))).string();
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

std::vector<Frame> world_clip(uint64_t seed, int size, int frames) {
  std::vector<Frame> out;
  for (auto& im : world::render(world::sample_scene(seed, {size, size, 12, frames})))
    out.push_back({im.width, im.height, std::move(im.rgb)});
  return out;
}

void write_video(const std::string& path, const std::vector<Frame>& frames, int crf = 18,
                 Provenance* provenance = nullptr) {
  VideoWriterOptions o;
  o.width = frames[0].width, o.height = frames[0].height, o.fps = 12, o.crf = crf, o.provenance = provenance;
  VideoWriter w(path, o);
  for (const Frame& f : frames) w.write(f);
  w.close();
}

double psnr(const std::vector<Frame>& a, const std::vector<Frame>& b) {
  double se = 0;
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t k = 0; k < a[i].rgb.size(); ++k) {
      const double d = double(a[i].rgb[k]) - b[i].rgb[k];
      se += d * d, ++n;
    }
  return se == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / (se / double(n)));
}

Frame crop(const Frame& f, int x0, int y0, int w, int h) {
  Frame c{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    std::memcpy(&c.rgb[size_t(y) * w * 3], &f.rgb[(size_t(y0 + y) * f.width + x0) * 3], size_t(w) * 3);
  return c;
}

TEST(Watermark, CostsLessThanPsnr42OnWorldRendersAndExtremes) {
  const WatermarkKey key;
  for (int i = 0; i < 9; ++i) {
    const int size = (i % 3 == 0) ? 128 : (i % 3 == 1) ? 192 : 256;
    const std::vector<Frame> orig = world_clip(700 + i, size, 25);
    std::vector<Frame> marked = orig;
    embed_watermark(marked, key);
    EXPECT_GE(psnr(orig, marked), 42.0) << "scene " << 700 + i << " at " << size;
    EXPECT_LE(psnr(orig, marked), 46.0) << "the mark should use its budget";
  }
  for (uint8_t v : {0, 128, 255}) {
    std::vector<Frame> flat(3, Frame{64, 48, std::vector<uint8_t>(64 * 48 * 3, v)});
    const auto orig = flat;
    embed_watermark(flat, key);
    EXPECT_GE(psnr(orig, flat), 42.0) << "flat " << int(v);
  }
}

TEST(Watermark, DetectsItsOwnKeyOnlyAndScoresUnmarkedNearZero) {
  const std::vector<Frame> orig = world_clip(42, 128, 25);
  std::vector<Frame> marked = orig, operator_marked = orig;
  embed_watermark(marked, WatermarkKey{});
  const WatermarkResult r = detect_watermark(marked, WatermarkKey{});
  EXPECT_TRUE(r.detected);
  EXPECT_GT(r.score, 6);
  EXPECT_LT(r.p_value, 1e-10);
  EXPECT_NEAR(r.confidence, 1 - r.p_value, 1e-12);
  EXPECT_DOUBLE_EQ(r.scale, 1.0);
  EXPECT_EQ(r.frames, 25);
  EXPECT_GT(r.geometries, 50);
  const WatermarkResult u = detect_watermark(orig, WatermarkKey{});
  EXPECT_FALSE(u.detected);
  EXPECT_LT(u.score, 4);

  WatermarkKey op;
  op.operator_key = watermark_operator_key("studio passphrase");
  EXPECT_NE(op.operator_key, 0u);
  EXPECT_EQ(watermark_operator_key(""), 0u);
  embed_watermark(operator_marked, op);
  EXPECT_TRUE(detect_watermark(operator_marked, op).detected);
  EXPECT_FALSE(detect_watermark(operator_marked, WatermarkKey{}).detected) << "another key sees nothing";
  EXPECT_FALSE(detect_watermark(marked, op).detected);
}

TEST(Watermark, RejectsBadInputWithClearErrors) {
  std::vector<Frame> none;
  EXPECT_THROW(embed_watermark(none, WatermarkKey{}), Error);
  EXPECT_THROW(detect_watermark(none, WatermarkKey{}), Error);
  std::vector<Frame> tiny(1, Frame{8, 8, std::vector<uint8_t>(8 * 8 * 3)});
  EXPECT_THROW(detect_watermark(tiny, WatermarkKey{}), Error);
  std::vector<Frame> mixed = {Frame{32, 32, std::vector<uint8_t>(32 * 32 * 3)},
                              Frame{32, 16, std::vector<uint8_t>(32 * 16 * 3)}};
  try {
    embed_watermark(mixed, WatermarkKey{});
    FAIL() << "mixed sizes accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("frame 1 is 32x16"), std::string::npos) << e.what();
  }
  std::vector<Frame> short_rgb(1, Frame{32, 32, std::vector<uint8_t>(100)});
  EXPECT_THROW(embed_watermark(short_rgb, WatermarkKey{}), Error);
}

// Twenty watermarked world renders written as the generator writes them (MP4, CRF 18), shared by
// the attack tests.
class WatermarkAttacks : public ::testing::Test {
 protected:
  static constexpr int kVideos = 20;
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    for (int i = 0; i < kVideos; ++i) {
      const int size = i % 2 ? 192 : 128;
      std::vector<Frame> clip = world_clip(300 + i, size, 25 + 5 * (i % 3));
      embed_watermark(clip, WatermarkKey{});
      const std::string path = dir_->file("gen" + std::to_string(i) + ".mp4");
      write_video(path, clip);
      paths_.push_back(path);
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
    paths_.clear();
  }
  // Applies attack to every video and returns how many are still detected.
  template <class Attack>
  int detected_after(Attack attack, double* min_score) {
    int hits = 0;
    *min_score = 1e9;
    for (int i = 0; i < kVideos; ++i) {
      const WatermarkResult r = detect_watermark(attack(paths_[i], dir_->file("attacked")), WatermarkKey{});
      hits += r.detected;
      *min_score = std::min(*min_score, r.score);
    }
    return hits;
  }
  static TempDir* dir_;
  static std::vector<std::string> paths_;
};
TempDir* WatermarkAttacks::dir_ = nullptr;
std::vector<std::string> WatermarkAttacks::paths_;

// The issue asks for >= 99%; on twenty videos we allow one miss so an encoder update cannot make
// the suite flaky, and check the weakest score. bench_watermark measures 200 per attack.
constexpr int kMinHits = 19;

TEST_F(WatermarkAttacks, SurvivesStrippingAndReencodingAtCrf28) {
  double min_z = 0;
  const int hits = detected_after(
      [](const std::string& in, const std::string& out) {
        write_video(out + ".mp4", read_video(in), 28);  // decoded and encoded afresh: no credentials
        return read_video(out + ".mp4");
      },
      &min_z);
  EXPECT_GE(hits, kMinHits) << "weakest score " << min_z;
}

TEST_F(WatermarkAttacks, SurvivesHalfSizeDownscale) {
  double min_z = 0;
  const int hits = detected_after(
      [](const std::string& in, const std::string& out) {
        const MediaInfo info = probe_media(in);
        VideoReadOptions half;
        half.width = info.width / 2, half.height = info.height / 2, half.resize = ResizeMode::stretch;
        write_video(out + ".mp4", read_video(in, half));
        return read_video(out + ".mp4");
      },
      &min_z);
  EXPECT_GE(hits, kMinHits) << "weakest score " << min_z;
}

TEST_F(WatermarkAttacks, SurvivesTenPercentCropAtAnyOffset) {
  double min_z = 0;
  std::mt19937 rng(5);
  const int hits = detected_after(
      [&](const std::string& in, const std::string& out) {
        std::vector<Frame> frames = read_video(in);
        const int w = frames[0].width, h = frames[0].height;
        const int cw = int(std::lround(w * 0.9)) / 2 * 2, ch = int(std::lround(h * 0.9)) / 2 * 2;
        const int x0 = int(rng() % unsigned(w - cw + 1)), y0 = int(rng() % unsigned(h - ch + 1));
        for (Frame& f : frames) f = crop(f, x0, y0, cw, ch);
        write_video(out + ".mp4", frames);
        return read_video(out + ".mp4");
      },
      &min_z);
  EXPECT_GE(hits, kMinHits) << "weakest score " << min_z;
}

TEST_F(WatermarkAttacks, SurvivesGifConversion) {
  double min_z = 0;
  const int hits = detected_after(
      [](const std::string& in, const std::string& out) {
        write_video(out + ".gif", read_video(in));  // 256-colour palette, Floyd-Steinberg dithering
        return read_video(out + ".gif");
      },
      &min_z);
  EXPECT_GE(hits, kMinHits) << "weakest score " << min_z;
}

TEST(Watermark, NoFalsePositivesOnTwoHundredUnmarkedVideos) {
  TempDir dir;
  int flagged = 0, small_p = 0;
  double max_z = -1e9;
  std::mt19937 rng(11);
  for (int i = 0; i < 200; ++i) {
    std::vector<Frame> clip;
    if (i % 10 == 9) {  // noise and gradients: the content most unlike the world's flat shapes
      Frame f{128, 128, std::vector<uint8_t>(128 * 128 * 3)};
      const int amp = 4 + 8 * (i % 4);
      for (int t = 0; t < 12; ++t) {
        for (size_t k = 0; k < f.rgb.size(); ++k)
          f.rgb[k] = uint8_t(std::clamp(int(k / 3 % 128) + int(rng() % unsigned(2 * amp + 1)) - amp + 60, 0, 255));
        clip.push_back(f);
      }
    } else {
      clip = world_clip(900000 + i, 128, 25);
    }
    if (i % 4 == 0) {  // a quarter go through the encoder, like files found in the wild
      write_video(dir.file("neg.mp4"), clip, 23);
      clip = read_video(dir.file("neg.mp4"));
    }
    const WatermarkResult r = detect_watermark(clip, WatermarkKey{});
    flagged += r.detected;
    small_p += r.p_value <= 0.05;
    max_z = std::max(max_z, r.score);
  }
  EXPECT_EQ(flagged, 0) << "highest score " << max_z;
  // p is a bound: at most 5% of unmarked videos may have p <= 0.05 (in practice far fewer).
  EXPECT_LE(small_p, 10);
}

int detect_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "detect");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_detect(int(argv.size()), argv.data());
}

TEST(CliDetect, CredentialsFirstThenTheWatermarkExitStatusSaysWhich) {
  TempDir dir;
  std::vector<Frame> clip = world_clip(77, 128, 25);
  const std::vector<Frame> plain = clip;
  embed_watermark(clip, WatermarkKey{});
  Provenance prov;
  prov.signer.config_dir = dir.file("config");
  const std::string signed_mp4 = dir.file("signed.mp4"), stripped = dir.file("stripped.mp4");
  write_video(signed_mp4, clip, 18, &prov);
  write_video(stripped, clip, 18, &prov);
  ASSERT_TRUE(strip_credentials(stripped));
  write_video(dir.file("plain.mp4"), plain);

  EXPECT_EQ(detect_cli({"--config-dir", prov.signer.config_dir, signed_mp4}), 0);
  EXPECT_EQ(detect_cli({"--quiet", stripped}), 0) << "the watermark outlives the credentials";
  EXPECT_EQ(detect_cli({"--watermark-only", signed_mp4}), 0);
  EXPECT_EQ(detect_cli({dir.file("plain.mp4")}), 4);
  EXPECT_EQ(detect_cli({stripped, dir.file("plain.mp4")}), 4) << "one not detected is enough";
  EXPECT_EQ(detect_cli({"--key", "other", "--watermark-only", stripped}), 4) << "another operator key";
  EXPECT_EQ(detect_cli({}), 2);
  EXPECT_EQ(detect_cli({"--bogus", stripped}), 2);
  EXPECT_EQ(detect_cli({"--help"}), 0);
  EXPECT_THROW(detect_cli({dir.file("missing.mp4")}), Error);
}

}  // namespace
}  // namespace kinema
