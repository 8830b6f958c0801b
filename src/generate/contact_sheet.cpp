// A one-row contact sheet of a clip's frames, for previews, and rows of them stacked (one row
// per clip: the sample sheets of a training run).
#include <algorithm>
#include <cstring>

#include "kinema/error.hpp"
#include "kinema/pipeline.hpp"

namespace kinema {

Frame contact_sheet(const std::vector<Frame>& frames, int count) {
  check(!frames.empty() && count > 0, "contact_sheet", "needs at least one frame");
  const int n = std::min<int>(count, int(frames.size()));
  const int w = frames[0].width, h = frames[0].height, gap = 2;
  Frame sheet;
  sheet.width = n * w + (n - 1) * gap, sheet.height = h;
  sheet.rgb.assign(size_t(sheet.width) * size_t(h) * 3, 255);
  for (int i = 0; i < n; ++i) {
    // Evenly spread, first and last frame included.
    const size_t f = n == 1 ? 0 : size_t(int64_t(i) * (int64_t(frames.size()) - 1) / (n - 1));
    const Frame& src = frames[f];
    check(src.width == w && src.height == h, "contact_sheet", "frames differ in size");
    for (int y = 0; y < h; ++y)
      std::memcpy(&sheet.rgb[(size_t(y) * sheet.width + size_t(i) * (w + gap)) * 3],
                  &src.rgb[size_t(y) * w * 3], size_t(w) * 3);
  }
  return sheet;
}

Frame stack_rows(const std::vector<Frame>& rows) {
  check(!rows.empty(), "stack_rows", "needs at least one row");
  const int gap = 2;
  Frame out;
  for (const Frame& r : rows) {
    check(r.width > 0 && r.height > 0 && r.rgb.size() == size_t(r.width) * size_t(r.height) * 3, "stack_rows",
          "a row is empty or its pixels do not match its size; got ", r.width, "x", r.height, " with ",
          r.rgb.size(), " bytes");
    out.width = std::max(out.width, r.width), out.height += r.height + gap;
  }
  out.height -= gap;
  out.rgb.assign(size_t(out.width) * size_t(out.height) * 3, 255);
  int top = 0;
  for (const Frame& r : rows) {
    for (int y = 0; y < r.height; ++y)
      std::memcpy(&out.rgb[size_t(top + y) * out.width * 3], &r.rgb[size_t(y) * r.width * 3], size_t(r.width) * 3);
    top += r.height + gap;
  }
  return out;
}

}  // namespace kinema
