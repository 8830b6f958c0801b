// Seam fading (docs/modes.md): a mode keeps its input's frames exactly but its new frames are
// decodes, so the VAE's reconstruction error of the frame at the seam shows as a jump there.
// The error (given - its decode) is carried into the new frames and faded out linearly, so the
// cut shows the model's own frame-to-frame change and the error is spread thinly over `fade`
// frames instead of landing in one.
#include <algorithm>

#include "kinema/error.hpp"
#include "kinema/modes.hpp"

namespace kinema {

void fade_seam(const Frame& given, const Frame& decoded, std::vector<Frame>::iterator first, int count,
               bool forward, int fade) {
  check(given.rgb.size() == decoded.rgb.size() && given.width == decoded.width && given.height == decoded.height,
        "seam", "the given frame (", given.width, "x", given.height, ") and its decode (", decoded.width, "x",
        decoded.height, ") differ in size");
  check(fade >= 0, "seam", "--seam-fade must be 0 or more frames; got ", fade);
  const int n = std::min(fade, std::max(count, 0));
  for (int j = 0; j < n; ++j) {  // j: frames from the seam; weight (fade - j) / (fade + 1)
    Frame& f = *(forward ? first + j : first + (count - 1 - j));
    check(f.rgb.size() == given.rgb.size(), "seam", "a new frame differs in size from the given one");
    const int w = fade - j, d = fade + 1;
    for (size_t i = 0; i < f.rgb.size(); ++i) {
      const int r = int(given.rgb[i]) - int(decoded.rgb[i]);
      const int v = int(f.rgb[i]) + (r * w + (r >= 0 ? d / 2 : -d / 2)) / d;  // rounded to nearest
      f.rgb[i] = uint8_t(std::clamp(v, 0, 255));
    }
  }
}

}  // namespace kinema
