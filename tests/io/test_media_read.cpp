// Reader: round-trip quality, seeking, fps resampling, resize modes, hostile files.
#include <gtest/gtest.h>

#include <filesystem>

#include "io_test_util.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"

namespace kinema {
namespace {
using test::TempDir;
using test::test_pattern;

std::string make_clip(const TempDir& dir, const std::string& name, int w, int h, double fps,
                      int frames) {
  std::string path = dir.file(name);
  VideoWriterOptions o;
  o.width = w, o.height = h, o.fps = fps;
  VideoWriter writer(path, o);
  for (int t = 0; t < frames; ++t) writer.write(test_pattern(w, h, t));
  writer.close();
  return path;
}

TEST(MediaRead, Mp4RoundTripAtDefaultQualityHasPsnrAtLeast40dB) {
  TempDir dir;
  // 256x256: at thumbnail sizes (128x96) the same pattern is mostly edges and reaches ~38 dB.
  auto path = make_clip(dir, "rt.mp4", 256, 256, 24, 24);
  auto frames = read_video(path);
  ASSERT_EQ(frames.size(), 24u);
  double worst = 99, mean = 0;
  for (int t = 0; t < 24; ++t) {
    double p = test::psnr(frames[t], test_pattern(256, 256, t));
    worst = std::min(worst, p), mean += p / 24;
  }
  std::printf("MP4 round trip PSNR: worst frame %.2f dB, mean %.2f dB\n", worst, mean);
  EXPECT_GE(worst, 40.0);
}

TEST(MediaRead, SeeksByTimeAndReadsADuration) {
  TempDir dir;
  auto path = make_clip(dir, "seek.mp4", 64, 64, 10, 50);  // 5 s
  VideoReadOptions o;
  o.start_s = 2.0, o.duration_s = 1.0;
  auto frames = read_video(path, o);
  ASSERT_EQ(frames.size(), 10u);
  // The right frames, not their neighbours: compare against frame 20 and 29 vs off-by-one.
  EXPECT_GT(test::psnr(frames[0], test_pattern(64, 64, 20)),
            test::psnr(frames[0], test_pattern(64, 64, 19)) + 3);
  EXPECT_GT(test::psnr(frames[9], test_pattern(64, 64, 29)),
            test::psnr(frames[9], test_pattern(64, 64, 30)) + 3);
}

TEST(MediaRead, ResamplesFpsUpAndDownBySampleAndHold) {
  TempDir dir;
  auto path = make_clip(dir, "fps.webm", 64, 64, 10, 20);  // 2 s
  VideoReadOptions up;
  up.fps = 20;
  auto f_up = read_video(path, up);
  ASSERT_EQ(f_up.size(), 40u);
  EXPECT_EQ(f_up[6].rgb, f_up[7].rgb);  // each source frame shown twice
  VideoReadOptions down;
  down.fps = 5;
  auto f_down = read_video(path, down);
  ASSERT_EQ(f_down.size(), 10u);
  EXPECT_GT(test::psnr(f_down[3], test_pattern(64, 64, 6)), 30.0);
}

TEST(MediaRead, ResizesByStretchCropAndPad) {
  TempDir dir;
  Frame wide;
  wide.width = 80, wide.height = 40;
  wide.rgb.assign(80 * 40 * 3, 200);
  write_image(dir.file("wide.png"), wide);
  VideoReadOptions o;
  o.width = 40, o.height = 40;
  o.resize = ResizeMode::pad;
  auto pad = read_video(dir.file("wide.png"), o);
  ASSERT_EQ(pad.size(), 1u);
  ASSERT_EQ(pad[0].width, 40);
  EXPECT_EQ(pad[0].rgb[0], 0);                          // top rows are padding
  EXPECT_EQ(pad[0].rgb[(20 * 40 + 20) * 3], 200);       // centre is image
  o.resize = ResizeMode::crop;
  auto crop = read_video(dir.file("wide.png"), o);
  EXPECT_EQ(crop[0].rgb[0], 200);                       // no padding when cropping
  o.resize = ResizeMode::stretch;
  o.width = 20, o.height = 0;                           // keep aspect
  auto keep = read_video(dir.file("wide.png"), o);
  EXPECT_EQ(keep[0].height, 10);
}

TEST(MediaRead, ReadsGifAndWebpStills) {
  TempDir dir;
  auto gif = make_clip(dir, "a.gif", 32, 32, 10, 5);
  EXPECT_EQ(read_video(gif).size(), 5u);
  std::string webp = dir.file("a.webp");
  int status = 0;
  test::run_command("ffmpeg -v error -f lavfi -i testsrc=size=40x30:rate=1 -frames:v 1 '" + webp + "'", &status);
  ASSERT_EQ(status, 0);
  auto f = read_video(webp);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].width, 40);
}

TEST(MediaRead, ProbeReportsSizeFpsAndCodec) {
  TempDir dir;
  auto path = make_clip(dir, "p.mp4", 64, 32, 25, 10);
  auto info = probe_media(path);
  EXPECT_EQ(info.width, 64);
  EXPECT_EQ(info.height, 32);
  EXPECT_NEAR(info.fps, 25, 1e-6);
  EXPECT_EQ(info.codec, "h264");
}

void expect_error_naming(const std::string& path, const std::string& what) {
  try {
    read_video(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

TEST(MediaRead, MissingEmptyAndNonMediaFilesGiveClearErrors) {
  TempDir dir;
  expect_error_naming(dir.file("nope.mp4"), "not a readable file");
  test::write_bytes(dir.file("empty.mp4"), {});
  expect_error_naming(dir.file("empty.mp4"), "empty");
  std::string text = "this is not a video, just some text that goes on\n";
  test::write_bytes(dir.file("text.mp4"), std::vector<uint8_t>(text.begin(), text.end()));
  expect_error_naming(dir.file("text.mp4"), "not a media file");
}

TEST(MediaRead, TruncatedAndCorruptFilesGiveErrorsOrPartialFramesNeverCrash) {
  TempDir dir;
  auto path = make_clip(dir, "t.mp4", 64, 64, 24, 24);
  auto bytes = test::read_bytes(path);
  for (size_t keep : {size_t(16), size_t(200), bytes.size() / 2, bytes.size() - 7}) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + keep);
    test::write_bytes(dir.file("cut.mp4"), cut);
    try {
      auto f = read_video(dir.file("cut.mp4"));
      EXPECT_LE(f.size(), 24u);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cut.mp4"), std::string::npos) << e.what();
    }
  }
  auto noisy = bytes;
  for (size_t i = 100; i < noisy.size(); i += 37) noisy[i] ^= 0x5a;
  test::write_bytes(dir.file("noisy.mp4"), noisy);
  try {
    read_video(dir.file("noisy.mp4"));
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("noisy.mp4"), std::string::npos) << e.what();
  }
}

TEST(MediaRead, HugeDeclaredDimensionsAreRefusedBeforeAllocation) {
  TempDir dir;
  // A PNG header claiming 100000 x 100000 pixels.
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                              0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0, 0, 0, 0, 0};
  test::write_bytes(dir.file("huge.png"), png);
  EXPECT_THROW(read_video(dir.file("huge.png")), Error);
}

TEST(MediaRead, TimeoutStopsALongReadWithAnError) {
  TempDir dir;
  auto path = make_clip(dir, "slow.mp4", 64, 64, 24, 48);
  VideoReadOptions o;
  o.timeout_s = 1e-6;  // over before the file is even opened
  try {
    read_video(path, o);
    FAIL() << "no timeout";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("slow.mp4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("took longer than"), std::string::npos) << e.what();
  }
}

TEST(MediaRead, StartPastTheEndGivesNoFrames) {
  TempDir dir;
  auto path = make_clip(dir, "short.mp4", 32, 32, 10, 10);  // 1 s
  VideoReadOptions o;
  o.start_s = 5;
  EXPECT_TRUE(read_video(path, o).empty());
}

TEST(MediaRead, MaxFramesGuardsMemory) {
  TempDir dir;
  auto path = make_clip(dir, "m.mp4", 32, 32, 24, 20);
  VideoReadOptions o;
  o.max_frames = 5;
  EXPECT_THROW(read_video(path, o), Error);
}

}  // namespace
}  // namespace kinema
