// Simulation: turns a Scene into per-frame ground truth. Kinematic behaviours (rotate, grow,
// orbit, appear) are closed-form in time; move/bounce/fall are stepped with a fixed number of
// substeps per frame so that collisions (elastic, momentum-conserving) and wall/floor bounces
// are deterministic for any fps.
#include <algorithm>

#include "world/internal.hpp"

namespace kinema::world {
namespace {

constexpr double kGravity = 2.6;       // world units / s^2
constexpr double kRestitution = 0.72;  // floor bounce keeps this fraction of the speed
constexpr int kSubsteps = 4;

struct Body {
  double x, y, vx = 0, vy = 0, r0;
  bool started = false;
};

bool is_dynamic(Behavior b) {
  return b == Behavior::move || b == Behavior::bounce || b == Behavior::fall;
}
bool collides(Behavior b) { return is_dynamic(b) || b == Behavior::still; }

// Radius multiplier of grow/shrink: linear from 1 to 1.7 (grow) or 0.45 (shrink) over the
// rest of the clip after `start`.
double scale_at(const Object& o, double t, double clip) {
  if (t <= o.start || clip <= o.start) return 1;
  const double u = std::min(1.0, (t - o.start) / std::max(1e-6, clip - o.start));
  if (o.behavior == Behavior::grow) return 1 + 0.7 * u;
  if (o.behavior == Behavior::shrink) return 1 - 0.55 * u;
  return 1;
}

void start_body(const Object& o, Body& b) {
  b.started = true;
  if (o.behavior == Behavior::move || o.behavior == Behavior::bounce) {
    double dx, dy;
    dir_vector(o.dir, dx, dy);
    b.vx = dx * o.speed;
    b.vy = dy * o.speed;
  }
}

void walls(const Object& o, Body& b, double r, double A) {
  if (o.behavior != Behavior::bounce && o.behavior != Behavior::fall) return;
  if (b.x < r && b.vx < 0) { b.x = 2 * r - b.x; b.vx = -b.vx; }
  if (b.x > A - r && b.vx > 0) { b.x = 2 * (A - r) - b.x; b.vx = -b.vx; }
  if (b.y < r && b.vy < 0) { b.y = 2 * r - b.y; b.vy = -b.vy; }
  if (b.y > 1 - r && b.vy > 0) {
    b.y = 2 * (1 - r) - b.y;
    b.vy = o.behavior == Behavior::fall ? -b.vy * kRestitution : -b.vy;
    if (o.behavior == Behavior::fall && std::abs(b.vy) < 0.05) b.vy = 0;
  }
}

// Elastic collision of two discs; a still object (or one whose behaviour has not started)
// is immovable, so a ball hitting it reflects and it stays put.
void collide(Body& a, double ra, bool a_fixed, Body& b, double rb, bool b_fixed) {
  const double dx = b.x - a.x, dy = b.y - a.y, d = std::sqrt(dx * dx + dy * dy);
  if (d >= ra + rb || d < 1e-9 || (a_fixed && b_fixed)) return;
  const double nx = dx / d, ny = dy / d;
  const double vn = (b.vx - a.vx) * nx + (b.vy - a.vy) * ny;
  const double overlap = ra + rb - d;
  const double ma = a_fixed ? 1e30 : ra * ra, mb = b_fixed ? 1e30 : rb * rb;
  const double wa = mb / (ma + mb), wb = ma / (ma + mb);
  a.x -= nx * overlap * wa; a.y -= ny * overlap * wa;
  b.x += nx * overlap * wb; b.y += ny * overlap * wb;
  if (vn >= 0) return;  // already separating
  const double j = 2 * vn / (1 / ma + 1 / mb);
  a.vx += j / ma * nx; a.vy += j / ma * ny;
  b.vx -= j / mb * nx; b.vy -= j / mb * ny;
}

CameraState camera_at(const Scene& s, double t, double clip) {
  const Camera& c = s.camera;
  CameraState cs{aspect(s) / 2, 0.5, 1, 0};
  if (c.cut > 0 && t >= c.cut) cs = {c.cut_x, c.cut_y, c.cut_zoom, 1};
  const double u = clip > 0 ? std::clamp(t / clip, 0.0, 1.0) : 0;
  switch (c.motion) {
    case CameraMotion::pan_left: cs.cx -= c.amount * u; break;
    case CameraMotion::pan_right: cs.cx += c.amount * u; break;
    case CameraMotion::zoom_in: cs.zoom *= 1 + c.amount * u; break;
    case CameraMotion::zoom_out: cs.zoom /= 1 + c.amount * u; break;
    case CameraMotion::still: break;
  }
  return cs;
}

}  // namespace

std::vector<FrameState> simulate(const Scene& s) {
  validate(s);
  const int n = int(s.objects.size());
  const double A = aspect(s), clip = double(s.frames) / s.fps, dt = 1.0 / (s.fps * kSubsteps);
  std::vector<Body> bodies(n);
  std::vector<ObjectState> st(n);
  std::vector<bool> hit(n, false);
  for (int i = 0; i < n; ++i) {
    const Object& o = s.objects[i];
    bodies[i] = {o.x, o.y, 0, 0, size_radius(o.size)};
    st[i].color = o.color;
  }
  std::vector<FrameState> out(s.frames);
  double t = 0;
  for (int f = 0; f < s.frames; ++f) {
    if (f > 0) {
      for (int k = 0; k < kSubsteps; ++k, t += dt) {
        for (int i = 0; i < n; ++i) {
          const Object& o = s.objects[i];
          Body& b = bodies[i];
          if (!b.started && t >= o.start) start_body(o, b);
          if (!b.started || !is_dynamic(o.behavior)) continue;
          if (o.behavior == Behavior::fall) b.vy += kGravity * dt;
          b.x += b.vx * dt;
          b.y += b.vy * dt;
          walls(o, b, b.r0, A);
        }
        for (int i = 0; i < n; ++i)
          for (int j = i + 1; j < n; ++j) {
            const Object &oi = s.objects[i], &oj = s.objects[j];
            if (oi.layer != oj.layer || !collides(oi.behavior) || !collides(oj.behavior)) continue;
            Body &a = bodies[i], &b = bodies[j];
            const double dx = b.x - a.x, dy = b.y - a.y;
            if (dx * dx + dy * dy >= (a.r0 + b.r0) * (a.r0 + b.r0)) continue;
            // Cause and effect: the first contact leaves its trace on the target for good.
            for (auto [p, q] : {std::pair{i, j}, std::pair{j, i}}) {
              const Object& op = s.objects[p];
              if (op.effect == Effect::none || op.target != q || hit[q]) continue;
              hit[q] = true;
              if (op.effect == Effect::recolor) st[q].color = op.effect_color;
              if (op.effect == Effect::bite) {
                st[q].bitten = true;
                st[q].bite_angle = std::atan2(bodies[p].y - bodies[q].y, bodies[p].x - bodies[q].x) -
                                   s.objects[q].angle;
              }
            }
            const bool fa = !a.started || !is_dynamic(oi.behavior), fb = !b.started || !is_dynamic(oj.behavior);
            collide(a, a.r0, fa, b, b.r0, fb);
          }
      }
      t = double(f) / s.fps;  // no drift from summing dt
    }
    FrameState& fs = out[f];
    fs.camera = camera_at(s, t, clip);
    fs.objects.resize(n);
    for (int i = 0; i < n; ++i) {
      const Object& o = s.objects[i];
      ObjectState& os = fs.objects[i];
      os = st[i];
      os.x = bodies[i].x;
      os.y = bodies[i].y;
      os.radius = bodies[i].r0 * scale_at(o, t, clip);
      const double active = std::max(0.0, t - o.start);
      os.angle = o.angle + (o.behavior == Behavior::rotate ? o.speed * active : 0);
      if (o.behavior == Behavior::appear) os.visible = t >= o.start;
      if (o.behavior == Behavior::disappear) os.visible = t < o.start;
      if (o.behavior == Behavior::orbit) {
        // Orbit the target's current centre at the initial distance (targets come first in
        // the loop order only if their index is lower; use the target's body directly).
        const Object& c = s.objects[o.target];
        const double cx = bodies[o.target].x, cy = bodies[o.target].y;
        const double r = std::hypot(o.x - c.x, o.y - c.y), a0 = std::atan2(o.y - c.y, o.x - c.x);
        os.x = cx + r * std::cos(a0 + o.speed * active);
        os.y = cy + r * std::sin(a0 + o.speed * active);
      }
    }
  }
  return out;
}

}  // namespace kinema::world
