// The clutter claim: nothing is drawn besides the scene's objects. The other claims look for
// each expected object (a detection of its colour near its place), so a frame full of blobs of
// every colour satisfies many of them at once; this claim measures what they ignore. Every
// background of the world is a function of y, so a pixel far from its row's median colour is
// foreground; foreground that no matched object accounts for, beyond the reference
// rendering's, is clutter.
#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "world/detect.hpp"
#include "world/internal.hpp"
#include "world/track.hpp"

namespace kinema::world {
namespace {

// Share of a frame's pixels that differ from their row's median colour by more than a blur
// halo or compression noise does, outside the discs (1.5 times their equivalent radius) of the
// detections the judge matched to expected objects: an object drawn larger than the scene's is
// the size claim's business, not clutter.
double unexplained_share(const Image& f, const std::vector<Track>& tracks, size_t t) {
  const auto bg = row_background(f);
  std::vector<std::array<double, 3>> discs;  // cx, cy, r^2
  for (const Track& tr : tracks)
    if (tr[t]) discs.push_back({tr[t]->cx, tr[t]->cy, 2.25 * tr[t]->area / kPi});
  int64_t n = 0;
  for (int y = 0; y < f.height; ++y)
    for (int x = 0; x < f.width; ++x) {
      if (color_dist(&f.rgb[(size_t(y) * f.width + x) * 3], bg[size_t(y)].data()) <= 60) continue;
      bool inside = false;
      for (const auto& d : discs) inside = inside || (x - d[0]) * (x - d[0]) + (y - d[1]) * (y - d[1]) <= d[2];
      n += !inside;
    }
  return double(n) / (double(f.width) * f.height);
}

}  // namespace

void add_clutter_claim(const Scene& s, const std::vector<Image>& frames, const Observations& o, Scorecard& card) {
  if (frames.empty() || s.objects.empty() || o.ref_frames.size() != frames.size()) return;
  std::vector<double> seen, expected;
  for (size_t t = 0; t < frames.size(); ++t)
    seen.push_back(unexplained_share(frames[t], o.track, t)), expected.push_back(unexplained_share(o.ref_frames[t], o.ref_track, t));
  // Unexplained foreground beyond the reference rendering's, against an allowance of a tenth
  // of the frame: a background drawn loosely (a stripe a few rows off) and specks stay within
  // it; blobs strewn over the frame do not.
  const double ratio = std::max(0.0, median(seen) - median(expected)) / kClutterAllowance;
  std::ostringstream text;
  text << "nothing else is drawn (unexplained foreground " << int(std::lround(100 * ratio)) << "% of the allowance)";
  add_claim(card, "clutter", text.str(), 1 - ratio / 2);  // passes up to the allowance
}

}  // namespace kinema::world
