// Median cut (Heckbert 1982): repeatedly split the box with the most weighted spread at the
// weighted median of its longest axis; each final box contributes its weighted mean colour.
#include "io/media/gif_palette.hpp"

#include <algorithm>
#include <cstring>

namespace kinema::media {
namespace {

constexpr int kLevels = 1 << GifPalette::kBits;
constexpr int kShift = 8 - GifPalette::kBits;

inline int bin_of(int r, int g, int b) {
  return ((r >> kShift) << (2 * GifPalette::kBits)) | ((g >> kShift) << GifPalette::kBits) | (b >> kShift);
}

struct Box {
  std::vector<uint32_t> bins;  // non-empty histogram bins in this box
  uint64_t weight = 0;
  int axis = 0, spread = 0;
};

int channel(uint32_t bin, int axis) {
  return int(bin >> (GifPalette::kBits * (2 - axis))) & (kLevels - 1);
}

void measure(Box& box, const std::vector<uint64_t>& hist) {
  int lo[3] = {kLevels, kLevels, kLevels}, hi[3] = {-1, -1, -1};
  box.weight = 0;
  for (uint32_t bin : box.bins) {
    box.weight += hist[bin];
    for (int a = 0; a < 3; ++a) {
      lo[a] = std::min(lo[a], channel(bin, a));
      hi[a] = std::max(hi[a], channel(bin, a));
    }
  }
  box.spread = -1;
  for (int a = 0; a < 3; ++a)
    if (hi[a] - lo[a] > box.spread) box.spread = hi[a] - lo[a], box.axis = a;
}

}  // namespace

void GifPalette::add(const uint8_t* rgb, size_t pixels) {
  for (size_t i = 0; i < pixels; ++i, rgb += 3) ++hist_[bin_of(rgb[0], rgb[1], rgb[2])];
}

void GifPalette::build() {
  std::vector<Box> boxes(1);
  for (uint32_t bin = 0; bin < hist_.size(); ++bin)
    if (hist_[bin]) boxes[0].bins.push_back(bin);
  if (boxes[0].bins.empty()) boxes[0].bins.push_back(0);
  measure(boxes[0], hist_);
  while (boxes.size() < 256) {
    // Split the box whose spread, weighted by its pixel count, is largest.
    size_t pick = boxes.size();
    double best = 0;
    for (size_t i = 0; i < boxes.size(); ++i) {
      if (boxes[i].bins.size() < 2 || boxes[i].spread <= 0) continue;
      double score = double(boxes[i].spread) * double(boxes[i].weight);
      if (score > best) best = score, pick = i;
    }
    if (pick == boxes.size()) break;
    Box& box = boxes[pick];
    int axis = box.axis;
    std::sort(box.bins.begin(), box.bins.end(),
              [axis](uint32_t a, uint32_t b) { return channel(a, axis) < channel(b, axis); });
    uint64_t half = box.weight / 2, acc = 0;
    size_t cut = 1;
    for (; cut < box.bins.size(); ++cut) {
      acc += hist_[box.bins[cut - 1]];
      if (acc >= half) break;
    }
    cut = std::clamp<size_t>(cut, 1, box.bins.size() - 1);
    Box other;
    other.bins.assign(box.bins.begin() + cut, box.bins.end());
    box.bins.resize(cut);
    measure(box, hist_);
    measure(other, hist_);
    boxes.push_back(std::move(other));
  }
  argb_.assign(256, 0xff000000u);
  for (size_t i = 0; i < boxes.size(); ++i) {
    double sum[3] = {0, 0, 0}, w = 0;
    for (uint32_t bin : boxes[i].bins) {
      double h = double(std::max<uint64_t>(hist_[bin], 1));
      for (int a = 0; a < 3; ++a) sum[a] += h * ((channel(bin, a) << kShift) + (1 << (kShift - 1)));
      w += h;
    }
    uint32_t c[3];
    for (int a = 0; a < 3; ++a) c[a] = uint32_t(std::clamp(sum[a] / w + 0.5, 0.0, 255.0));
    argb_[i] = 0xff000000u | (c[0] << 16) | (c[1] << 8) | c[2];
  }
  // Nearest palette entry for every bin centre, searched once.
  lut_.assign(hist_.size(), 0);
  for (uint32_t bin = 0; bin < hist_.size(); ++bin) {
    int r = (channel(bin, 0) << kShift) + (1 << (kShift - 1));
    int g = (channel(bin, 1) << kShift) + (1 << (kShift - 1));
    int b = (channel(bin, 2) << kShift) + (1 << (kShift - 1));
    int best = 0, best_d = 1 << 30;
    for (size_t i = 0; i < boxes.size(); ++i) {
      int dr = r - int((argb_[i] >> 16) & 255), dg = g - int((argb_[i] >> 8) & 255),
          db = b - int(argb_[i] & 255);
      int d = dr * dr + dg * dg + db * db;
      if (d < best_d) best_d = d, best = int(i);
    }
    lut_[bin] = uint8_t(best);
  }
}

uint8_t GifPalette::nearest(int r, int g, int b) const { return lut_[bin_of(r, g, b)]; }

void GifPalette::dither(const uint8_t* rgb, int width, int height, uint8_t* indices,
                        int index_stride) const {
  // Error rows (current, next) in 1/16 units, with one guard column each side.
  std::vector<int> err_cur(size_t(width + 2) * 3, 0), err_next(size_t(width + 2) * 3, 0);
  for (int y = 0; y < height; ++y) {
    std::fill(err_next.begin(), err_next.end(), 0);
    const uint8_t* row = rgb + size_t(y) * width * 3;
    for (int x = 0; x < width; ++x) {
      int want[3];
      for (int a = 0; a < 3; ++a)
        want[a] = std::clamp(int(row[x * 3 + a]) + err_cur[(x + 1) * 3 + a] / 16, 0, 255);
      uint8_t idx = nearest(want[0], want[1], want[2]);
      indices[size_t(y) * index_stride + x] = idx;
      uint32_t p = argb_[idx];
      int got[3] = {int((p >> 16) & 255), int((p >> 8) & 255), int(p & 255)};
      for (int a = 0; a < 3; ++a) {
        int e = want[a] - got[a];
        err_cur[(x + 2) * 3 + a] += e * 7;
        err_next[x * 3 + a] += e * 3;
        err_next[(x + 1) * 3 + a] += e * 5;
        err_next[(x + 2) * 3 + a] += e * 1;
      }
    }
    std::swap(err_cur, err_next);
  }
}

}  // namespace kinema::media
