// observe(): detections of the observed and reference frames, matched to expected objects.
#include <algorithm>

#include "world/internal.hpp"
#include "world/track.hpp"

namespace kinema::world {
namespace {

// Greedy matching per frame: each object takes the unclaimed detection of its expected colour
// nearest its anchor (within max_dist pixels when max_dist > 0).
void match(const std::vector<Detection>& dets, const std::vector<Color>& colors,
           const std::vector<std::pair<double, double>>& anchors, const std::vector<bool>& want,
           double max_dist, std::vector<std::optional<Detection>>& out) {
  std::vector<bool> taken(dets.size(), false);
  for (size_t i = 0; i < colors.size(); ++i) {
    out[i].reset();
    if (!want[i]) continue;
    double best = 1e18;
    int arg = -1;
    for (size_t k = 0; k < dets.size(); ++k) {
      if (taken[k] || dets[k].color != colors[i]) continue;
      const double d = std::hypot(dets[k].cx - anchors[i].first, dets[k].cy - anchors[i].second);
      if (d < best && (max_dist <= 0 || d < max_dist)) best = d, arg = int(k);
    }
    if (arg >= 0) taken[arg] = true, out[i] = dets[arg];
  }
}

}  // namespace

Observations observe(const std::vector<Image>& frames, const Scene& ref, const SceneFacts& facts) {
  const int F = int(frames.size()), n = int(ref.objects.size());
  Observations o;
  o.ref_frames = render(ref);
  const std::vector<Image>& ref_frames = o.ref_frames;
  o.seen.resize(F);
  o.ref_seen.resize(F);
  o.track.assign(n, Track(F));
  o.ref_track.assign(n, Track(F));
  std::vector<Color> colors(n);
  std::vector<std::pair<double, double>> anchors(n), obs_anchor(n);
  std::vector<bool> want(n, true), obs_seen(n, false);
  std::vector<std::optional<Detection>> m(n);
  for (int t = 0; t < F; ++t) {
    o.seen[t] = detect(frames[t]);
    o.ref_seen[t] = detect(ref_frames[t]);
    for (int i = 0; i < n; ++i) {
      const ObjectState& st = facts.states[t].objects[i];
      colors[i] = st.color;
      to_screen(ref, facts.states[t].camera, st.x, st.y, anchors[i].first, anchors[i].second);
    }
    const double reach = std::max(6.0, 0.12 * ref.height);
    match(o.ref_seen[t], colors, anchors, want, reach, m);
    for (int i = 0; i < n; ++i) o.ref_track[i][t] = m[i];
    // The observed object is looked for near the expected place, and near where it was last
    // seen, whichever is closer for each candidate.
    std::vector<std::pair<double, double>> a = anchors;
    for (int i = 0; i < n; ++i)
      if (obs_seen[i] && !(t > 0 && facts.states[t].camera.shot != facts.states[t - 1].camera.shot))
        a[i] = {0.5 * (anchors[i].first + obs_anchor[i].first), 0.5 * (anchors[i].second + obs_anchor[i].second)};
    // Generous reach (a generator places things loosely) but bounded, so that an object that
    // left the frame does not take over an identical one elsewhere.
    match(o.seen[t], colors, a, want, 0.35 * ref.height, m);
    for (int i = 0; i < n; ++i) {
      o.track[i][t] = m[i];
      if (m[i]) obs_seen[i] = true, obs_anchor[i] = {m[i]->cx, m[i]->cy};
    }
  }
  return o;
}

}  // namespace kinema::world
