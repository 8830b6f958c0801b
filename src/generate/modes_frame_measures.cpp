// The per-frame arithmetic of the modes benchmark (kinema/modes_scorecard.hpp): PSNR of a given
// frame against what came out, and how far an output's subjects are from the input's, frame by
// frame (an edit must keep the input's motion).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kinema/error.hpp"
#include "kinema/modes_scorecard.hpp"
#include "world/detect.hpp"

namespace kinema {

double frame_psnr(const Frame& a, const Frame& b) {
  check(a.width == b.width && a.height == b.height && a.rgb.size() == b.rgb.size() && !a.rgb.empty(), "psnr",
        "frames differ in size: ", a.width, "x", a.height, " and ", b.width, "x", b.height);
  double se = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) {
    const double d = double(a.rgb[i]) - double(b.rgb[i]);
    se += d * d;
  }
  const double mse = se / double(a.rgb.size());
  return mse == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(255.0 * 255.0 / mse);
}

namespace {

std::vector<world::Detection> detections(const Frame& f) { return world::detect(world::Image{f.width, f.height, f.rgb}); }

// Each input subject's distance to its output subject in one frame, matched one to one, nearest
// pairs first (one output blob cannot stand for two subjects); +inf for those left unmatched.
void match_frame(const std::vector<world::Detection>& in, const std::vector<world::Detection>& out,
                 std::vector<double>& distances) {
  struct Pair { double d; size_t a, b; };
  std::vector<Pair> pairs;
  for (size_t a = 0; a < in.size(); ++a)
    for (size_t b = 0; b < out.size(); ++b) pairs.push_back({std::hypot(in[a].cx - out[b].cx, in[a].cy - out[b].cy), a, b});
  std::sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.d < y.d; });
  std::vector<double> best(in.size(), std::numeric_limits<double>::infinity());
  std::vector<bool> used_a(in.size(), false), used_b(out.size(), false);
  for (const Pair& p : pairs)
    if (!used_a[p.a] && !used_b[p.b]) used_a[p.a] = used_b[p.b] = true, best[p.a] = p.d;
  distances.insert(distances.end(), best.begin(), best.end());
}

}  // namespace

double track_error_px(const std::vector<Frame>& input, const std::vector<Frame>& output) {
  std::vector<double> d;
  const size_t n = std::min(input.size(), output.size());
  for (size_t t = 0; t < n; ++t) match_frame(detections(input[t]), detections(output[t]), d);
  if (d.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(d.begin(), d.end());
  const size_t h = d.size() / 2;
  return d.size() % 2 ? d[h] : 0.5 * (d[h - 1] + d[h]);
}

std::vector<Frame> render_frames(const world::Scene& scene) {
  std::vector<Frame> out;
  for (world::Image& im : world::render(scene)) out.push_back(Frame{im.width, im.height, std::move(im.rgb)});
  return out;
}

}  // namespace kinema
