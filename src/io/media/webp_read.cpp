// Still WebP images through libwebp. FFmpeg 5.1's WebP decoder aborts the process on some
// damaged files (av_assert0 in decode.c, found by fuzzing), so kinema never hands WebP to libav.
#include <webp/decode.h>

#include "io/media/webp_read.hpp"
#include "kinema/error.hpp"

namespace kinema::media {

bool is_webp(const std::vector<uint8_t>& head) {
  return head.size() >= 12 && std::equal(head.begin(), head.begin() + 4, "RIFF") &&
         std::equal(head.begin() + 8, head.begin() + 12, "WEBP");
}

Frame decode_webp(const std::vector<uint8_t>& data, const std::string& path, int64_t max_pixels) {
  WebPBitstreamFeatures f;
  check(WebPGetFeatures(data.data(), data.size(), &f) == VP8_STATUS_OK, "read_video", "'", path,
        "' is not a WebP image libwebp can read (corrupt or truncated)");
  check(!f.has_animation, "read_video", "'", path, "' is an animated WebP; only still WebP images are supported");
  check(f.width > 0 && f.height > 0 && int64_t(f.width) * f.height <= max_pixels, "read_video", "'",
        path, "' frame size is too large; got ", f.width, "x", f.height, ", expected at most ",
        max_pixels, " pixels");
  Frame out;
  out.width = f.width, out.height = f.height;
  out.rgb.resize(size_t(f.width) * f.height * 3);
  uint8_t* ok = WebPDecodeRGBInto(data.data(), data.size(), out.rgb.data(), out.rgb.size(), f.width * 3);
  check(ok != nullptr, "read_video", "'", path, "' has a WebP header but its image data is damaged");
  return out;
}

}  // namespace kinema::media
