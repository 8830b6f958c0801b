// fill_scene: turns a parsed prompt into a complete Scene, sampling every unspecified value
// (seeded) within the same constraints as sample_scene: colours distinct and far from the
// background, objects inside the frame, movers ending inside the frame, relations satisfied.
#include <algorithm>
#include <utility>

#include "world/internal.hpp"
#include "world/parsed_prompt.hpp"

namespace kinema::world {
namespace {

void choose_background(const ParsedPrompt& p, Rng& rng, Scene& s) {
  const int n = int(background_palette().size());
  s.background = Background(rng.below(5));
  s.bg_top = rng.below(n);
  s.bg_bottom = rng.below(n);
  switch (p.background) {
    case kBgGrass: s.background = Background::horizon; s.bg_top = 0; s.bg_bottom = 2; break;
    case kBgSky: s.background = Background::horizon; s.bg_top = 0; break;
    case kBgNight: s.background = Background::night; s.bg_top = 4; break;
    case kBgSand: s.background = Background::horizon; s.bg_top = 0; s.bg_bottom = 3; break;
    case kBgGradient: s.background = Background::gradient; break;
    case kBgStripes: s.background = Background::stripes; break;
    case kBgOcean: s.background = Background::horizon; s.bg_top = 0; s.bg_bottom = 4; break;
    default: break;
  }
  if (p.background < 0 && p.bg_color >= 0) {
    // The muted background tone of each object colour (indices into background_palette()):
    // red, orange, yellow, green, blue, purple, pink, brown, white, black, gray, cyan.
    static const int kTone[kColorCount] = {8, 3, 1, 7, 0, 5, 8, 3, 1, 4, 6, 7};
    s.bg_top = kTone[p.bg_color];
    s.background = Background::plain;
  }
  if (p.background < 0 && s.background == Background::night) s.bg_top = 4;
  if (s.background == Background::plain) s.bg_bottom = s.bg_top;
  if ((s.background == Background::stripes || s.background == Background::horizon) && s.bg_bottom == s.bg_top)
    s.bg_bottom = (s.bg_top + 1 + rng.below(n - 1)) % n;
}

bool colors_fit(const ParsedPrompt& p, const Scene& s) {
  for (const PObject& o : p.objects) {
    if (o.color >= 0 && !color_fits_background(s, Color(o.color))) return false;
    if (o.effect_color >= 0 && !color_fits_background(s, Color(o.effect_color))) return false;
  }
  return true;
}

Behavior behavior_of(const PObject& o) {
  switch (o.verb < 0 ? -1 : Verb(o.verb) == Verb::still ? 99 : o.verb) {
    case int(Verb::move): return Behavior::move;
    case int(Verb::bounce): return o.dir >= 0 ? Behavior::bounce : Behavior::fall;
    case int(Verb::fall): return Behavior::fall;
    case int(Verb::rotate): return Behavior::rotate;
    case int(Verb::grow): return Behavior::grow;
    case int(Verb::shrink): return Behavior::shrink;
    case int(Verb::orbit): return Behavior::orbit;
    case int(Verb::appear): return Behavior::appear;
    case int(Verb::disappear): return Behavior::disappear;
    default: return Behavior::still;
  }
}

// The range [lo, hi] of a coordinate within the third `which` (0, 1, 2) of [0, extent], or the
// whole range when which is -1; a third the object cannot fit keeps the point nearest to it.
std::pair<double, double> third(int which, double extent, double lo, double hi) {
  if (which < 0) return {lo, hi};
  const double a = std::max(lo, extent * which / 3), b = std::min(hi, extent * (which + 1) / 3);
  if (a <= b) return {a, b};
  const double nearest = std::clamp(extent * (which + 0.5) / 3, lo, hi);
  return {nearest, nearest};
}

}  // namespace

Scene fill_scene(const ParsedPrompt& p, uint64_t seed, const SampleOptions& opt) {
  Rng rng(mix_seed(seed, 0xf111));
  Scene s;
  s.width = opt.width; s.height = opt.height; s.fps = opt.fps; s.frames = opt.frames;
  s.seed = seed;
  for (int tries = 0; tries < 64; ++tries) {
    choose_background(p, rng, s);
    if (colors_fit(p, s)) break;
  }
  const double A = aspect(s), T = clip_seconds(s);
  // Colours: specified ones first, then distinct free ones.
  std::vector<Color> used;
  for (const PObject& o : p.objects) {
    if (o.color >= 0) used.push_back(Color(o.color));
    if (o.effect_color >= 0) used.push_back(Color(o.effect_color));
  }
  auto free_color = [&]() {
    std::vector<Color> ok;
    for (int c = 0; c < kColorCount; ++c)
      if (color_fits_background(s, Color(c)) && std::find(used.begin(), used.end(), Color(c)) == used.end()) ok.push_back(Color(c));
    const Color c = ok.empty() ? Color(rng.below(kColorCount)) : rng.pick(ok);
    used.push_back(c);
    return c;
  };
  std::vector<int> first(p.objects.size());  // scene index of each parsed object's first copy
  std::vector<int> parsed_of;                 // parsed object of each scene object
  std::vector<bool> linked(p.objects.size(), false);
  for (const PObject& o : p.objects)
    if (o.target >= 0) linked[o.target] = true;
  int total = 0;
  for (const PObject& o : p.objects) total += o.count;
  for (size_t k = 0; k < p.objects.size(); ++k) {
    const PObject& po = p.objects[k];
    Object o;
    o.behavior = behavior_of(po);
    o.shape = po.shape >= 0 ? Shape(po.shape) : Shape(rng.below(kShapeCount));
    if (po.shape < 0 && o.behavior == Behavior::rotate && (o.shape == Shape::circle || o.shape == Shape::ring)) o.shape = Shape::star;
    o.color = po.color >= 0 ? Color(po.color) : free_color();
    o.size = po.size >= 0 ? Size(po.size) : Size(rng.below(total >= 3 ? 2 : 3));
    if (o.behavior == Behavior::grow && po.size < 0) o.size = Size::small;
    o.dir = po.dir >= 0 ? Dir(po.dir) : Dir(rng.below(8));
    if (o.behavior == Behavior::bounce) o.speed = rng.uniform(0.6, 0.9);
    if (o.behavior == Behavior::rotate) o.speed = (po.spin ? po.spin : (rng.chance(0.5) ? 1 : -1)) * rng.uniform(1.6, 3.0);
    if (o.behavior == Behavior::orbit) o.speed = (po.spin ? po.spin : (rng.chance(0.5) ? 1 : -1)) * rng.uniform(2.0, 3.0);
    if (p.events > 1 && o.behavior != Behavior::still) o.start = T * po.event / p.events;
    if (o.behavior == Behavior::appear || o.behavior == Behavior::disappear)
      o.start = p.events > 1 && po.event > 0 ? T * po.event / p.events : rng.uniform(0.3, 0.7) * T;
    if (po.effect == int(Effect::recolor)) {
      o.effect = Effect::recolor;
      o.effect_color = po.effect_color >= 0 ? Color(po.effect_color) : free_color();
    }
    if (po.effect == int(Effect::bite)) o.effect = Effect::bite;
    if (linked[k] && po.verb < 0) o.size = po.size >= 0 ? Size(po.size) : Size::large;
    o.layer = int(k) + 1;
    first[k] = int(s.objects.size());
    for (int c = 0; c < po.count; ++c) s.objects.push_back(o), parsed_of.push_back(int(k));
  }
  // Links: geometry of the cause-and-effect, occlusion and orbit templates.
  std::vector<bool> placed(s.objects.size(), false);
  for (size_t k = 0; k < p.objects.size(); ++k) {
    const PObject& po = p.objects[k];
    if (po.target < 0) continue;
    Object& a = s.objects[first[k]];
    Object& b = s.objects[first[po.target]];
    if (po.link == Verb::orbit) {
      a.behavior = Behavior::orbit; a.target = first[po.target];
      if (a.speed == 0.3) a.speed = rng.uniform(2.0, 3.0);
      b.x = A / 2; b.y = 0.5; a.x = b.x + 0.3; a.y = 0.5;
      if (a.size == Size::large) a.size = Size::small;
    } else {
      const bool from_left = po.dir >= 0 ? po.dir != int(Dir::left) : rng.chance(0.5);
      a.behavior = Behavior::move;
      a.dir = from_left ? Dir::right : Dir::left;
      a.y = b.y = rng.uniform(0.35, 0.65);
      b.behavior = Behavior::still;
      if (po.link == Verb::behind) {
        a.size = po.size >= 0 ? a.size : Size::small;
        b.size = Size::large;
        a.x = from_left ? 0.12 : A - 0.12; b.x = A / 2;
        a.speed = (A - 0.24) / std::max(0.2, T - a.start);
        b.layer = a.layer + 100;
      } else {
        a.size = po.size >= 0 ? a.size : Size::small;
        a.x = from_left ? 0.12 : A - 0.12; b.x = from_left ? A * 0.62 : A * 0.38;
        a.speed = std::abs(b.x - a.x) / std::max(0.2, (T - a.start) * 0.45);
        a.target = first[po.target];
        if (a.effect == Effect::none && po.effect < 0) a.effect = Effect::none, a.target = -1;
        b.layer = a.layer;
      }
    }
    placed[first[k]] = placed[first[po.target]] = true;
  }
  // Everything else: rejection sampling against overlaps and relations.
  auto ok_relations = [&](const std::vector<bool>& done) {
    for (const PRelation& r : p.relations) {
      const int a = first[r.a], b = first[r.b];
      if (!done[a] || !done[b]) continue;
      const Object &oa = s.objects[a], &ob = s.objects[b];
      const double gap = size_radius(oa.size) + size_radius(ob.size);
      if (r.kind == 0 && !(oa.y < ob.y - gap)) return false;
      if (r.kind == 1 && !(oa.y > ob.y + gap)) return false;
      if (r.kind == 3 && !(oa.x < ob.x - gap)) return false;
      if (r.kind == 4 && !(oa.x > ob.x + gap)) return false;
    }
    return true;
  };
  // Whole attempts restart when an object finds no spot (an early object may have taken the
  // side a relation needs).
  const std::vector<bool> fixed = placed;
  for (int attempt = 0; attempt < 60; ++attempt) {
    placed = fixed;
    bool all = true;
    for (size_t i = 0; i < s.objects.size(); ++i) {
      if (placed[i]) continue;
      Object& o = s.objects[i];
      const double r = size_radius(o.size) * 1.2;
      bool ok = false;
      const PObject& po = p.objects[size_t(parsed_of[i])];
      const auto [x0, x1] = third(po.place_h, A, r + 0.02, A - r - 0.02);
      const auto [y0, y1] = third(po.place_v, 1.0, r + 0.02, o.behavior == Behavior::fall ? 0.42 : 1 - r - 0.02);
      for (int tries = 0; tries < 80 && !ok; ++tries) {
        o.x = rng.uniform(x0, x1);
        o.y = rng.uniform(y0, y1);
        bool good = true;
        for (size_t j = 0; j < s.objects.size() && good; ++j)
          if (placed[j]) good = std::hypot(s.objects[j].x - o.x, s.objects[j].y - o.y) > r + size_radius(s.objects[j].size) * 1.2 + 0.05;
        if (good && o.behavior == Behavior::move) {
          double dx, dy;
          dir_vector(o.dir, dx, dy);
          const double disp = 0.3 + 0.2 * rng.uniform();
          o.speed = disp / std::max(0.2, T - o.start);
          const double ex = o.x + dx * disp, ey = o.y + dy * disp;
          good = ex > r && ex < A - r && ey > r && ey < 1 - r;
        }
        placed[i] = true;
        ok = good && ok_relations(placed);
        if (!ok) placed[i] = false;
      }
      placed[i] = true;
      all = all && ok;
    }
    if (all) break;
  }
  if (p.camera >= 0) {
    s.camera.motion = CameraMotion(p.camera);
    s.camera.amount = s.camera.motion == CameraMotion::zoom_in || s.camera.motion == CameraMotion::zoom_out ? 0.4 : 0.3;
  }
  if (p.cut && s.frames > 1) {
    s.camera.cut = T / 2;
    s.camera.cut_zoom = 1.5;
    double mx = 0, my = 0;
    for (const Object& o : s.objects) mx += o.x, my += o.y;
    s.camera.cut_x = mx / s.objects.size();
    s.camera.cut_y = my / s.objects.size();
  }
  if (s.frames == 1)
    for (Object& o : s.objects) o.behavior = o.behavior == Behavior::appear ? Behavior::still : o.behavior;
  validate(s);
  return s;
}

}  // namespace kinema::world
