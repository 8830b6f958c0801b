// Seeded scene sampling: scene templates (free, count, collision, cause, occlusion, order,
// orbit) whose every claim stays visible and judgeable: distinct colours, colours far from
// the background, objects inside the frame, no accidental collisions between movers.
#include <algorithm>

#include "world/internal.hpp"

namespace kinema::world {

bool color_fits_background(const Scene& s, Color c) {
  uint8_t rgb[3];
  color_rgb(c, rgb);
  const auto& pal = background_palette();
  const uint8_t *top = pal[s.bg_top].rgb, *bot = pal[s.bg_bottom].rgb;
  for (int k = 0; k <= 4; ++k) {
    uint8_t m[3];
    for (int i = 0; i < 3; ++i) m[i] = uint8_t(top[i] + (bot[i] - top[i]) * k / 4.0);
    if (s.background == Background::plain && k > 0) break;
    if (color_dist(rgb, m) < 150) return false;
  }
  if (s.background == Background::night || s.background == Background::horizon) {
    const uint8_t star[3] = {242, 242, 217};  // stars, and the sky's lighter band
    if (s.background == Background::night && color_dist(rgb, star) < 150) return false;
    uint8_t light[3];
    for (int i = 0; i < 3; ++i) light[i] = uint8_t(top[i] + (255 - top[i]) * 0.25);
    if (color_dist(rgb, light) < 150) return false;
  }
  return true;
}

namespace {

struct Sampler {
  Rng& rng;
  Scene& s;
  std::vector<Color> used;
  double A = aspect(s), T = clip_seconds(s);

  Color color() {
    std::vector<Color> ok;
    for (int c = 0; c < kColorCount; ++c)
      if (color_fits_background(s, Color(c)) && std::find(used.begin(), used.end(), Color(c)) == used.end())
        ok.push_back(Color(c));
    const Color c = ok.empty() ? Color::red : rng.pick(ok);
    used.push_back(c);
    return c;
  }
  Shape shape(bool rotating = false) {
    for (;;) {
      const Shape sh = Shape(rng.below(kShapeCount));
      if (!rotating || (sh != Shape::circle && sh != Shape::ring)) return sh;
    }
  }
  Size size() { return Size(rng.below(3)); }
  // A free spot for a disc of radius r, at least `gap` from the objects placed so far.
  void place(Object& o, double gap = 0.05, double ymin = 0, double ymax = 1) {
    const double r = size_radius(o.size) * 1.2;
    for (int tries = 0; tries < 200; ++tries) {
      o.x = rng.uniform(r + 0.02, A - r - 0.02);
      o.y = rng.uniform(std::max(ymin, r + 0.02), std::min(ymax, 1 - r - 0.02));
      bool free = true;
      for (const Object& p : s.objects)
        free = free && std::hypot(p.x - o.x, p.y - o.y) > r + size_radius(p.size) * 1.2 + gap;
      if (free) return;
    }
  }
  Object base(bool rotating = false) {
    Object o;
    o.shape = shape(rotating);
    o.color = color();
    o.size = size();
    o.angle = rng.chance(0.5) ? 0 : rng.uniform(0, 2 * kPi);
    return o;
  }
  // A move that ends inside the frame: displacement 0.3..0.55 along one of 8 directions.
  void moving(Object& o) {
    o.behavior = Behavior::move;
    const double dur = T - o.start, r = size_radius(o.size) * 1.15;
    for (int tries = 0; tries < 100; ++tries) {
      o.dir = Dir(rng.below(8));
      const double disp = rng.uniform(0.3, 0.55);
      double dx, dy;
      dir_vector(o.dir, dx, dy);
      o.speed = disp / std::max(0.2, dur);
      const double ex = o.x + dx * disp, ey = o.y + dy * disp;
      if (ex > r && ex < A - r && ey > r && ey < 1 - r) return;
    }
    o.behavior = Behavior::still;
  }
  void behave(Object& o) {
    static const Behavior kChoices[] = {Behavior::still, Behavior::move, Behavior::move, Behavior::bounce,
                                        Behavior::fall, Behavior::rotate, Behavior::grow, Behavior::shrink,
                                        Behavior::appear, Behavior::disappear};
    o.behavior = kChoices[rng.below(10)];
    if (o.behavior == Behavior::rotate && (o.shape == Shape::circle || o.shape == Shape::ring))
      o.shape = Shape::star;
    switch (o.behavior) {
      case Behavior::move: moving(o); break;
      case Behavior::bounce:
        o.dir = Dir(rng.below(8));
        o.speed = rng.uniform(0.6, 0.9);
        break;
      case Behavior::fall: o.y = std::min(o.y, 0.42); break;
      case Behavior::rotate: o.speed = (rng.chance(0.5) ? 1 : -1) * rng.uniform(1.6, 3.0); break;
      case Behavior::grow: o.size = o.size == Size::large ? Size::medium : o.size; break;
      case Behavior::appear:
      case Behavior::disappear: o.start = rng.uniform(0.3, 0.7) * T; break;
      default: break;
    }
  }
  void add(Object o, int layer) {
    o.layer = layer;
    s.objects.push_back(o);
  }
};

void sample_background(Rng& rng, Scene& s) {
  s.background = Background(rng.below(5));
  const int n = int(background_palette().size());
  s.bg_top = rng.below(n);
  s.bg_bottom = rng.below(n);
  if (s.background == Background::night) s.bg_top = 4;  // navy sky
  if (s.background == Background::plain) s.bg_bottom = s.bg_top;
  if (s.background == Background::stripes || s.background == Background::horizon)
    while (s.bg_bottom == s.bg_top) s.bg_bottom = rng.below(n);
}

void sample_camera(Rng& rng, Scene& s) {
  const double u = rng.uniform();
  Camera& c = s.camera;
  if (u < 0.62) return;
  if (u < 0.72) c.motion = CameraMotion::pan_left;
  else if (u < 0.82) c.motion = CameraMotion::pan_right;
  else if (u < 0.87) c.motion = CameraMotion::zoom_in;
  else if (u < 0.92) c.motion = CameraMotion::zoom_out;
  if (c.motion == CameraMotion::pan_left || c.motion == CameraMotion::pan_right) c.amount = rng.uniform(0.2, 0.35);
  if (c.motion == CameraMotion::zoom_in || c.motion == CameraMotion::zoom_out) c.amount = rng.uniform(0.3, 0.5);
  if (u >= 0.92) {
    c.cut = clip_seconds(s) * rng.uniform(0.4, 0.6);
    c.cut_zoom = rng.uniform(1.3, 1.6);
    double mx = 0, my = 0;
    for (const Object& o : s.objects) mx += o.x, my += o.y;
    c.cut_x = mx / std::max<size_t>(1, s.objects.size());
    c.cut_y = my / std::max<size_t>(1, s.objects.size());
  }
}

}  // namespace

Scene sample_scene(uint64_t seed, const SampleOptions& opt) {
  Rng rng(seed);
  Scene s;
  s.width = opt.width; s.height = opt.height; s.fps = opt.fps; s.frames = opt.frames;
  s.seed = seed;
  sample_background(rng, s);
  Sampler sp{rng, s, {}};
  const double T = sp.T, A = sp.A;
  const int tmpl = opt.single_large ? 0 : s.frames == 1 ? (rng.chance(0.7) ? 0 : 1) : rng.below(10);
  if (tmpl == 1) {  // count: two or three identical objects, maybe one other
    Object g = sp.base();
    const int k = 2 + rng.below(2);
    g.size = rng.chance(0.5) ? Size::small : Size::medium;
    for (int i = 0; i < k; ++i) { sp.place(g, 0.08); sp.add(g, 0); }
    if (rng.chance(0.5)) { Object o = sp.base(); o.size = Size::small; sp.place(o, 0.08); sp.add(o, 0); }
  } else if (tmpl == 2) {  // collision: two movers head-on, equal size, same layer
    Object a = sp.base(), b = sp.base();
    a.size = b.size = Size(rng.below(2));
    a.y = b.y = rng.uniform(0.35, 0.65);
    a.x = rng.uniform(0.18, 0.25) * A; b.x = A - rng.uniform(0.18, 0.25) * A;
    a.behavior = b.behavior = Behavior::move;
    a.dir = Dir::right; b.dir = Dir::left;
    a.speed = b.speed = (b.x - a.x) / T * rng.uniform(0.75, 0.95);
    sp.add(a, 0); sp.add(b, 0);
  } else if (tmpl == 3) {  // cause and effect: a mover hits a fixed target and leaves a trace
    Object a = sp.base(), b = sp.base();
    a.size = Size::small; b.size = Size::large;
    b.shape = rng.chance(0.5) ? Shape::square : Shape::circle;
    a.y = b.y = rng.uniform(0.35, 0.65);
    const bool from_left = rng.chance(0.5);
    a.x = from_left ? 0.12 : A - 0.12; b.x = from_left ? A * 0.62 : A * 0.38;
    a.behavior = Behavior::move; a.dir = from_left ? Dir::right : Dir::left;
    a.speed = (std::abs(b.x - a.x)) / (T * 0.45);
    a.target = 1;
    a.effect = rng.chance(0.5) ? Effect::recolor : Effect::bite;
    if (a.effect == Effect::recolor) a.effect_color = sp.color();
    sp.add(a, 0); sp.add(b, 0);
  } else if (tmpl == 4) {  // occlusion: a small mover passes behind a large still occluder
    Object occ = sp.base(), m = sp.base();
    occ.size = Size::large; occ.shape = rng.chance(0.5) ? Shape::square : Shape::circle;
    m.size = Size::small;
    occ.x = A / 2; occ.y = m.y = rng.uniform(0.35, 0.65);
    const bool ltr = rng.chance(0.5);
    m.x = ltr ? 0.12 : A - 0.12;
    m.behavior = Behavior::move; m.dir = ltr ? Dir::right : Dir::left;
    m.speed = (A - 0.24) / T;
    sp.add(m, 0); sp.add(occ, 1);
  } else if (tmpl == 5) {  // ordered events: the second begins after the first
    Object a = sp.base(), b = sp.base();
    sp.place(a, 0.1, 0.15, 0.55); sp.place(b, 0.1, 0.15, 0.45);
    sp.moving(a);
    b.start = T * rng.uniform(0.45, 0.55);
    if (rng.chance(0.5)) b.behavior = Behavior::fall; else sp.moving(b);
    sp.add(a, 0); sp.add(b, 1);
  } else if (tmpl == 6) {  // orbit
    Object c = sp.base(), o = sp.base();
    c.size = Size::medium; o.size = Size::small;
    c.x = A / 2 + rng.uniform(-0.1, 0.1); c.y = 0.5;
    o.x = c.x + 0.3; o.y = c.y;
    o.behavior = Behavior::orbit; o.target = 0; o.speed = (rng.chance(0.5) ? 1 : -1) * rng.uniform(2.0, 3.0);
    sp.add(c, 0); sp.add(o, 1);
  } else {  // free: 1..4 objects with independent behaviours, each on its own layer
    const int n = opt.single_large ? 1 : 1 + rng.below(4);
    for (int i = 0; i < n; ++i) {
      Object o = sp.base();
      if (n >= 3 && o.size == Size::large) o.size = Size::medium;
      if (opt.single_large) o.size = Size::large;
      sp.place(o, 0.06);
      if (s.frames > 1) sp.behave(o);
      sp.add(o, i);
    }
  }
  if (s.frames > 1 && tmpl != 4) sample_camera(rng, s);
  return s;
}

}  // namespace kinema::world
