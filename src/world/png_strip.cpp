// Lossless clip files for data sets: all frames of a clip stacked vertically in one PNG
// (flat-coloured frames compress well, and one file per clip keeps shards simple).
#include <cairo.h>

#include <cstring>

#include "kinema/error.hpp"
#include "world/internal.hpp"

namespace kinema::world {

void write_png_strip(const std::string& path, const std::vector<Image>& frames) {
  check(!frames.empty(), "world.png", "no frames for ", path);
  const int W = frames[0].width, H = frames[0].height, n = int(frames.size());
  check(int64_t(H) * n <= 32767, "world.png", "clip too tall for one PNG; got ", n, " frames of height ", H,
        ", expected height*frames <= 32767");
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H * n);
  unsigned char* data = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int f = 0; f < n; ++f) {
    check(frames[f].width == W && frames[f].height == H, "world.png", "frame sizes differ in ", path);
    for (int y = 0; y < H; ++y) {
      uint32_t* row = reinterpret_cast<uint32_t*>(data + size_t(f * H + y) * stride);
      const uint8_t* src = &frames[f].rgb[size_t(y) * W * 3];
      for (int x = 0; x < W; ++x) row[x] = (uint32_t(src[3 * x]) << 16) | (uint32_t(src[3 * x + 1]) << 8) | src[3 * x + 2];
    }
  }
  cairo_surface_mark_dirty(s);
  const cairo_status_t st = cairo_surface_write_to_png(s, path.c_str());
  cairo_surface_destroy(s);
  check(st == CAIRO_STATUS_SUCCESS, "world.png", "cannot write ", path, ": ", cairo_status_to_string(st));
}

std::vector<Image> read_png_strip(const std::string& path, int frames) {
  cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(s);
    fail("world.png", "cannot read ", path);
  }
  const int W = cairo_image_surface_get_width(s), total = cairo_image_surface_get_height(s);
  const int stride = cairo_image_surface_get_stride(s);
  if (frames <= 0 || total % frames) {
    cairo_surface_destroy(s);
    fail("world.png", "strip height ", total, " is not a multiple of the frame count ", frames, " in ", path);
  }
  const int H = total / frames;
  const unsigned char* data = cairo_image_surface_get_data(s);
  std::vector<Image> out(frames);
  for (int f = 0; f < frames; ++f) {
    out[f] = {W, H, std::vector<uint8_t>(size_t(W) * H * 3)};
    for (int y = 0; y < H; ++y) {
      const uint32_t* row = reinterpret_cast<const uint32_t*>(data + size_t(f * H + y) * stride);
      for (int x = 0; x < W; ++x) {
        uint8_t* d = &out[f].rgb[(size_t(y) * W + x) * 3];
        d[0] = uint8_t(row[x] >> 16); d[1] = uint8_t(row[x] >> 8); d[2] = uint8_t(row[x]);
      }
    }
  }
  cairo_surface_destroy(s);
  return out;
}

}  // namespace kinema::world
