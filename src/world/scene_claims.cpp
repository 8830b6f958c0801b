// Scene-wide claims of the judge: relations, background, camera motion, and (cross_shot.cpp)
// cross-shot consistency.
#include <algorithm>
#include <array>

#include "world/internal.hpp"
#include "world/track.hpp"

namespace kinema::world {

std::vector<std::array<double, 3>> row_profile(const Image& f) {
  std::vector<std::array<double, 3>> out(32);
  std::vector<uint8_t> v(f.width);
  for (int k = 0; k < 32; ++k) {
    const int y = std::min(f.height - 1, int((k + 0.5) * f.height / 32));
    for (int c = 0; c < 3; ++c) {
      for (int x = 0; x < f.width; ++x) v[x] = f.rgb[(size_t(y) * f.width + x) * 3 + c];
      std::nth_element(v.begin(), v.begin() + f.width / 2, v.end());
      out[k][c] = v[f.width / 2];
    }
  }
  return out;
}

double profile_distance(const std::vector<std::array<double, 3>>& a, const std::vector<std::array<double, 3>>& b) {
  double d = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    uint8_t x[3], y[3];
    for (int c = 0; c < 3; ++c) x[c] = uint8_t(a[k][c]), y[c] = uint8_t(b[k][c]);
    d += color_dist(x, y);
  }
  return d / double(a.size());
}

void add_scene_claims(const Scene& s, const SceneFacts& facts, const Observations& o,
                      const std::vector<Image>& frames, Scorecard& card) {
  const int F = int(frames.size()), H = s.height;
  for (const Relation& r : facts.rel) {
    const Track &ta = o.track[r.a], &tb = o.track[r.b];
    int f = 0;
    while (f < F && !(ta[f] && tb[f])) ++f;
    const bool left = r.kind == "left_of";
    double score = 0;
    if (f < F) {
      const double d = left ? tb[f]->cx - ta[f]->cx : tb[f]->cy - ta[f]->cy;
      score = 0.5 + d / (0.1 * H);
    }
    add_claim(card, "relation", "the " + object_name(s, r.a) + (left ? " starts left of the " : " starts above the ") + object_name(s, r.b), score);
  }
  // Background: per-row colours of the first frame against the reference rendering's.
  {
    Scene still = s;
    still.objects.clear();
    still.frames = 1;
    still.camera.motion = CameraMotion::still;
    const double err = profile_distance(row_profile(frames[0]), row_profile(render(still)[0]));
    const auto& pal = background_palette();
    std::string text = std::string(background_name(s.background)) + " background (" + pal[s.bg_top].name;
    if (s.background != Background::plain && s.background != Background::night) text += std::string(", ") + pal[s.bg_bottom].name;
    add_claim(card, "background", text + ")", 1 - err / 60);
  }
  if (F < 2) return;
  // Camera: the screen motion of every visible object matches the reference (which includes
  // the camera's pan or zoom), measured as the median per-object error of net displacement
  // and of the area change.
  {
    std::vector<double> err;
    for (size_t i = 0; i < o.track.size(); ++i) {
      const Track &t = o.track[i], &r = o.ref_track[i];
      int a = 0, b = F - 1;
      while (a < F && !(r[a] && t[a])) ++a;
      while (b > a && !(r[b] && t[b])) --b;
      if (a >= b || facts.states[a].camera.shot != facts.states[b].camera.shot) continue;
      const double e = std::hypot((t[b]->cx - t[a]->cx) - (r[b]->cx - r[a]->cx), (t[b]->cy - t[a]->cy) - (r[b]->cy - r[a]->cy)) / H;
      const double z = std::abs(std::log((t[b]->area / t[a]->area) / (r[b]->area / r[a]->area)));
      err.push_back(e + 0.25 * z);
    }
    if (!err.empty()) {
      std::sort(err.begin(), err.end());
      const double m = err[err.size() / 2];
      std::string text = s.camera.motion == CameraMotion::still ? "the camera is static"
                                                                 : std::string("the camera ") + camera_name(s.camera.motion);
      add_claim(card, "camera", text, 1 - m / 0.2);
    }
  }
  if (s.camera.cut > 0) add_cross_shot_claim(s, facts, o, frames, card);
}

}  // namespace kinema::world
