// Writers: ffprobe confirms container, codec, frame count, fps and size for every format.
#include <gtest/gtest.h>

#include <filesystem>

#include "io_test_util.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"

namespace kinema {
namespace {
using test::ffprobe;
using test::TempDir;
using test::test_pattern;

// Counts GIF images and local colour tables that differ from the global one (FFmpeg 5.1
// repeats the global table on the first image); false if the block structure is broken.
bool gif_palettes(const std::vector<uint8_t>& g, bool* global, int* images, int* local_tables) {
  if (g.size() < 13 || std::string(g.begin(), g.begin() + 6) != "GIF89a") return false;
  size_t pos = 13;
  *global = g[10] & 0x80;
  std::vector<uint8_t> gct;
  if (*global) {
    size_t n = 3u << ((g[10] & 7) + 1);
    if (pos + n > g.size()) return false;
    gct.assign(g.begin() + long(pos), g.begin() + long(pos + n));
    pos += n;
  }
  auto skip_sub_blocks = [&]() {
    while (pos < g.size() && g[pos] != 0) pos += 1 + g[pos];
    ++pos;
  };
  *images = *local_tables = 0;
  while (pos < g.size()) {
    uint8_t b = g[pos++];
    if (b == 0x3B) return true;
    if (b == 0x21) {
      ++pos;  // label
      skip_sub_blocks();
    } else if (b == 0x2C) {
      if (pos + 9 > g.size()) return false;
      uint8_t packed = g[pos + 8];
      pos += 9;
      ++*images;
      if (packed & 0x80) {
        size_t n = 3u << ((packed & 7) + 1);
        if (pos + n > g.size()) return false;
        if (!std::equal(g.begin() + long(pos), g.begin() + long(pos + n), gct.begin(), gct.end())) ++*local_tables;
        pos += n;
      }
      ++pos;  // LZW minimum code size
      skip_sub_blocks();
    } else {
      return false;
    }
  }
  return false;
}

void write_clip(const std::string& path, int w, int h, double fps, int frames,
                VideoWriterOptions o = {}) {
  o.width = w, o.height = h, o.fps = fps;
  VideoWriter writer(path, o);
  for (int t = 0; t < frames; ++t) writer.write(test_pattern(w, h, t));
  writer.close();
}

TEST(MediaWrite, Mp4IsH264Yuv420pWithRightFrameCountFpsAndSize) {
  TempDir dir;
  std::string path = dir.file("clip.mp4");
  write_clip(path, 96, 64, 24, 30);
  auto p = ffprobe(path);
  EXPECT_EQ(p["codec_name"], "h264");
  EXPECT_EQ(p["pix_fmt"], "yuv420p");
  EXPECT_NE(p["format"].get<std::string>().find("mp4"), std::string::npos);
  EXPECT_EQ(p["width"], 96);
  EXPECT_EQ(p["height"], 64);
  EXPECT_EQ(p["r_frame_rate"], "24/1");
  EXPECT_EQ(p["nb_read_frames"], "30");
}

TEST(MediaWrite, Mp4IsFaststartWithMoovBeforeMdat) {
  TempDir dir;
  std::string path = dir.file("fast.mp4");
  write_clip(path, 64, 64, 30, 10);
  auto bytes = test::read_bytes(path);
  std::string s(bytes.begin(), bytes.end());
  auto moov = s.find("moov"), mdat = s.find("mdat");
  ASSERT_NE(moov, std::string::npos);
  ASSERT_NE(mdat, std::string::npos);
  EXPECT_LT(moov, mdat);
}

TEST(MediaWrite, WebmIsVp9WithRightFrameCountFpsAndSize) {
  TempDir dir;
  std::string path = dir.file("clip.webm");
  write_clip(path, 64, 48, 30, 12);
  auto p = ffprobe(path);
  EXPECT_EQ(p["codec_name"], "vp9");
  EXPECT_NE(p["format"].get<std::string>().find("webm"), std::string::npos);
  EXPECT_EQ(p["width"], 64);
  EXPECT_EQ(p["height"], 48);
  EXPECT_EQ(p["r_frame_rate"], "30/1");
  EXPECT_EQ(p["nb_read_frames"], "12");
}

TEST(MediaWrite, GifHasOnePalettePerClipAndRightFrameCountAndSize) {
  TempDir dir;
  std::string path = dir.file("clip.gif");
  write_clip(path, 50, 40, 10, 8);
  auto p = ffprobe(path);
  EXPECT_EQ(p["codec_name"], "gif");
  EXPECT_EQ(p["format"], "gif");
  EXPECT_EQ(p["width"], 50);
  EXPECT_EQ(p["height"], 40);
  EXPECT_EQ(p["nb_read_frames"], "8");
  EXPECT_EQ(p["r_frame_rate"], "10/1");
  EXPECT_FALSE(std::filesystem::exists(path + ".kinema-spool"));
  bool global = false;
  int images = 0, local_tables = 0;
  ASSERT_TRUE(gif_palettes(test::read_bytes(path), &global, &images, &local_tables));
  EXPECT_TRUE(global) << "one global palette for the clip";
  EXPECT_EQ(images, 8);
  EXPECT_EQ(local_tables, 0) << "a frame has its own palette";
  // Dithered palette keeps the image recognisable.
  auto frames = read_video(path);
  ASSERT_EQ(frames.size(), 8u);
  EXPECT_GT(test::psnr(frames[3], test_pattern(50, 40, 3)), 24.0);
}

TEST(MediaWrite, SinglePngIsLosslessAndRefusesASecondFrame) {
  TempDir dir;
  std::string path = dir.file("still.png");
  VideoWriterOptions o;
  o.width = 33, o.height = 17;  // odd sizes are fine for PNG
  VideoWriter w(path, o);
  w.write(test_pattern(33, 17, 0));
  EXPECT_THROW(w.write(test_pattern(33, 17, 1)), Error);
  w.close();
  auto p = ffprobe(path);
  EXPECT_EQ(p["codec_name"], "png");
  EXPECT_EQ(p["width"], 33);
  auto frames = read_video(path);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].rgb, test_pattern(33, 17, 0).rgb);
}

TEST(MediaWrite, PngSequenceWritesNumberedFilesFromOne) {
  TempDir dir;
  write_clip(dir.file("seq_%03d.png"), 16, 16, 24, 3);
  for (int i = 1; i <= 3; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "seq_%03d.png", i);
    EXPECT_EQ(ffprobe(dir.file(name))["codec_name"], "png") << name;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("seq_004.png")));
  VideoWriterOptions o;
  o.format = VideoFormat::png_sequence;
  write_clip(dir.file("f.png"), 16, 16, 24, 2, o);
  EXPECT_TRUE(std::filesystem::exists(dir.file("f_00002.png")));
}

TEST(MediaWrite, JpegImageIsWrittenAndReadable) {
  TempDir dir;
  std::string path = dir.file("still.jpg");
  write_image(path, test_pattern(64, 48, 2));
  EXPECT_EQ(ffprobe(path)["codec_name"], "mjpeg");
  auto frames = read_video(path);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_GT(test::psnr(frames[0], test_pattern(64, 48, 2)), 30.0);
}

TEST(MediaWrite, RejectsBadOptionsAndWrongFrameSizesWithClearErrors) {
  TempDir dir;
  VideoWriterOptions o;
  o.width = 63, o.height = 64;
  EXPECT_THROW(VideoWriter(dir.file("odd.mp4"), o), Error);
  o.width = 64, o.fps = 0;
  EXPECT_THROW(VideoWriter(dir.file("a.mp4"), o), Error);
  o.fps = 24;
  EXPECT_THROW(VideoWriter(dir.file("a.avi"), o), Error);
  EXPECT_THROW(VideoWriter(dir.file("missing/dir/a.mp4"), o), Error);
  VideoWriter w(dir.file("a.mp4"), o);
  try {
    w.write(test_pattern(32, 32, 0));
    FAIL() << "wrong frame size accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a.mp4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected 64x64"), std::string::npos) << e.what();
  }
  w.write(test_pattern(64, 64, 0));
  w.close();
}

TEST(MediaWrite, LongClipStreamsWithoutGrowingMemoryPerFrame) {
  // 240 frames at 128x128 through one writer: the encoder drains as it goes.
  TempDir dir;
  std::string path = dir.file("long.mp4");
  write_clip(path, 128, 128, 24, 240);
  EXPECT_EQ(ffprobe(path)["nb_read_frames"], "240");
}

}  // namespace
}  // namespace kinema
