// The judge's cross-shot claim: the clip cuts where the reference cuts, and every object seen
// on both sides of the cut keeps its colour and shape.
//
// The cut is found from the objects and the background. The second shot frames the scene
// 1.3-1.6x closer on another centre, so at a cut every object jumps: in the frame after it, an
// object looks like the reference's after-cut view of it (place and size), in the frame
// before, like the before-cut view; the background's rows move with the zoom. Frame
// differences alone cannot tell a cut from an object that starts moving or vanishes in the
// same frame, which a continuous shot often shows (ordered events start and objects disappear
// around mid-clip, where cuts are). Only when neither an object seen on both sides nor the
// background shows the reference's cut is the frame difference used, and then it must be a
// spike.
#include <algorithm>
#include <cmath>

#include "world/internal.hpp"
#include "world/track.hpp"

namespace kinema::world {
namespace {

// How unlike a view of an object a detection is: distance in frame heights plus the size
// change (half the log area ratio, so the 1.7x area of the closest cut framing costs 0.26).
double view_cost(const Detection& d, const Detection& view, int H) {
  return std::hypot(d.cx - view.cx, d.cy - view.cy) / H + 0.5 * std::abs(std::log(d.area / view.area));
}

// An object whose before- and after-cut views differ at least this much shows the cut.
constexpr double kInformative = 0.15;

// Which view frame f's detections of the object resemble: -1 before the cut, +1 after, 0
// neither (not seen, or no nearer to one view than to the other).
int side_of(const std::vector<Detection>& dets, const Detection& before, const Detection& after, int H) {
  double cb = 1e9, ca = 1e9;
  for (const Detection& d : dets) {
    if (d.color == before.color) cb = std::min(cb, view_cost(d, before, H));
    if (d.color == after.color) ca = std::min(ca, view_cost(d, after, H));
  }
  const double margin = 0.03, reach = 0.25;
  if (ca + margin < cb && ca < reach) return 1;
  if (cb + margin < ca && cb < reach) return -1;
  return 0;
}

double mean_abs_diff(const Image& a, const Image& b) {
  double acc = 0;
  for (size_t i = 0; i < a.rgb.size(); i += 7) acc += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  return acc / (a.rgb.size() / 7.0);
}

}  // namespace

void add_cross_shot_claim(const Scene& s, const SceneFacts& facts, const Observations& o, const std::vector<Image>& frames,
                          Scorecard& card) {
  const int F = int(frames.size()), H = s.height, n = int(o.track.size());
  int ref_cut = 0;
  for (int f = 1; f < F && !ref_cut; ++f)
    if (facts.states[f].camera.shot != facts.states[f - 1].camera.shot) ref_cut = f;
  if (ref_cut == 0) return;  // the cut falls after the last frame: nothing to see
  // Candidate cut frames: the reference's, or one frame either side (a generator's timing).
  std::vector<int> candidates = {ref_cut};
  if (ref_cut - 1 >= 1) candidates.push_back(ref_cut - 1);
  if (ref_cut + 1 <= F - 1) candidates.push_back(ref_cut + 1);
  // Per candidate: objects that show the cut there (before-view, then after-view) and objects
  // that show none (still the before-view after it). An object leaving the frame in a
  // continuous shot can look like its edge-clipped after-cut view; another that stays put
  // says there was no cut.
  int informative = 0, cut = ref_cut, best = -1;
  std::vector<int> votes(candidates.size(), 0), against(candidates.size(), 0);
  // One voter: side(f) says whether frame f shows the before-cut view (-1), the after-cut view
  // (+1) or neither (0).
  auto vote = [&](const auto& side) {
    ++informative;
    for (size_t c = 0; c < candidates.size(); ++c) {
      const int f = candidates[c], now = side(f);
      votes[c] += side(f - 1) < 0 && now > 0;
      against[c] += now < 0;
    }
  };
  for (int i = 0; i < n; ++i) {
    const auto &before = o.ref_track[i][ref_cut - 1], &after = o.ref_track[i][ref_cut];
    if (!before || !after || view_cost(*after, *before, H) < kInformative) continue;
    vote([&](int f) { return side_of(o.seen[f], *before, *after, H); });
  }
  // The background votes too, unless it looks the same from both framings (plain): its rows
  // (gradient, horizon, stripes, stars) move with the zoom, while an object vanishing in one
  // frame, which alone would make the frame difference spike, leaves them as they were.
  {
    Scene empty = s;
    empty.objects.clear();
    Image view[2];
    for (int k = 0; k < 2; ++k) render_frame(empty, FrameState{{}, facts.states[ref_cut - 1 + k].camera}, view[k]);
    const auto before = row_profile(view[0]), after = row_profile(view[1]);
    if (profile_distance(before, after) >= 8)
      vote([&](int f) {
        const auto p = row_profile(frames[f]);
        const double db = profile_distance(p, before), da = profile_distance(p, after);
        return da < db ? 1 : db < da ? -1 : 0;
      });
  }
  bool cut_seen = false;
  if (informative > 0) {
    for (size_t c = 0; c < candidates.size(); ++c)
      if (best < 0 || votes[c] - against[c] > votes[best] - against[best]) best = int(c);
    cut = candidates[best];
    cut_seen = 2 * votes[best] >= informative && votes[best] > against[best];
  } else {
    // Nothing to follow across the cut: the frame difference there must stand out from its
    // neighbours' (a step, as when something starts moving, is not a cut) and from the clip's.
    std::vector<double> diff(F + 1, 0);
    for (int f = 1; f < F; ++f) diff[f] = mean_abs_diff(frames[f - 1], frames[f]);
    std::vector<double> sorted(diff.begin() + 1, diff.begin() + F);
    std::sort(sorted.begin(), sorted.end());
    const double med = sorted[sorted.size() / 2];
    double here = -1;
    for (int f : candidates)
      if (diff[f] > here) here = diff[f], cut = f;
    const double neighbours = std::max(diff[cut - 1], diff[cut + 1]);
    // (The floor only keeps a still clip's zero differences from passing: a cut on a night sky
    // with nothing in view changes a few stars, 0.27 on a clean rendering.)
    cut_seen = here > 0.1 && here >= 2 * med && here >= 1.5 * neighbours;
  }
  int kept = 0, total = 0;
  auto seen_with_shape = [&](const Track& t, Shape sh, int from, int to) {
    for (int f = from; f < to; ++f) if (t[f] && t[f]->shape == sh) return true;
    return false;
  };
  for (int i = 0; i < n; ++i) {
    const Shape sh = s.objects[i].shape;
    if (!seen_with_shape(o.ref_track[i], sh, 0, ref_cut) || !seen_with_shape(o.ref_track[i], sh, ref_cut, F)) continue;
    ++total;
    kept += seen_with_shape(o.track[i], sh, 0, cut) && seen_with_shape(o.track[i], sh, cut, F);
  }
  if (total == 0) total = kept = 1;  // nothing visible on both sides: only the cut is checked
  add_claim(card, "cross_shot", "the shot cuts and the objects keep their colour and shape",
            cut_seen ? double(kept) / total : 0);
}

}  // namespace kinema::world
