// Palette for an animated GIF: one palette per clip, built by median cut over a colour
// histogram gathered while frames stream in, then applied with Floyd–Steinberg dithering.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace kinema::media {

class GifPalette {
 public:
  static constexpr int kBits = 5;  // histogram precision per channel: 32×32×32 bins
  void add(const uint8_t* rgb, size_t pixels);
  // Median cut over the histogram into at most 256 colours; call once after the last add().
  void build();
  const std::vector<uint32_t>& argb() const { return argb_; }  // AV_PIX_FMT_PAL8 layout
  // Maps one RGB24 image to palette indices with Floyd–Steinberg error diffusion.
  void dither(const uint8_t* rgb, int width, int height, uint8_t* indices, int index_stride) const;

 private:
  uint8_t nearest(int r, int g, int b) const;
  std::vector<uint64_t> hist_ = std::vector<uint64_t>(1u << (3 * kBits), 0);
  std::vector<uint32_t> argb_;
  std::vector<uint8_t> lut_;  // histogram bin → nearest palette index
};

}  // namespace kinema::media
