// Cairo renderer: backgrounds are functions of world y only (so the judge can model them per
// row), written straight into the surface; shapes are anti-aliased Cairo paths in pixels.
#include <cairo.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "kinema/error.hpp"
#include "world/internal.hpp"

namespace kinema::world {

void shape_path(cairo_t* cr, Shape sh) {
  auto poly = [&](int n, double r, double phase) {
    for (int i = 0; i < n; ++i) {
      const double a = phase + 2 * kPi * i / n;
      i ? cairo_line_to(cr, r * std::cos(a), r * std::sin(a)) : cairo_move_to(cr, r * std::cos(a), r * std::sin(a));
    }
    cairo_close_path(cr);
  };
  switch (sh) {
    case Shape::circle: cairo_arc(cr, 0, 0, 1, 0, 2 * kPi); cairo_close_path(cr); break;
    case Shape::square: cairo_rectangle(cr, -0.78, -0.78, 1.56, 1.56); break;
    case Shape::triangle: poly(3, 1.12, -kPi / 2); break;
    case Shape::hexagon: poly(6, 1.02, 0); break;
    case Shape::ring:
      cairo_arc(cr, 0, 0, 1, 0, 2 * kPi);
      cairo_close_path(cr);
      cairo_new_sub_path(cr);
      cairo_arc_negative(cr, 0, 0, 0.5, 2 * kPi, 0);
      cairo_close_path(cr);
      break;
    case Shape::star:
      for (int i = 0; i < 10; ++i) {
        const double a = -kPi / 2 + kPi * i / 5, r = (i & 1) ? 0.5 : 1.15;
        i ? cairo_line_to(cr, r * std::cos(a), r * std::sin(a)) : cairo_move_to(cr, r * std::cos(a), r * std::sin(a));
      }
      cairo_close_path(cr);
      break;
    case Shape::cross: {
      const double a = 0.98, w = 0.34;
      const double pts[12][2] = {{-w, -a}, {w, -a}, {w, -w}, {a, -w}, {a, w}, {w, w},
                                 {w, a},   {-w, a}, {-w, w}, {-a, w}, {-a, -w}, {-w, -w}};
      for (int i = 0; i < 12; ++i) i ? cairo_line_to(cr, pts[i][0], pts[i][1]) : cairo_move_to(cr, pts[i][0], pts[i][1]);
      cairo_close_path(cr);
      break;
    }
    case Shape::heart:
      // Two lobes and a point, fitting the unit circle.
      cairo_move_to(cr, 0, 0.95);
      cairo_curve_to(cr, -0.55, 0.55, -1.1, 0.15, -1.0, -0.35);
      cairo_curve_to(cr, -0.9, -0.95, -0.2, -1.0, 0, -0.5);
      cairo_curve_to(cr, 0.2, -1.0, 0.9, -0.95, 1.0, -0.35);
      cairo_curve_to(cr, 1.1, 0.15, 0.55, 0.55, 0, 0.95);
      cairo_close_path(cr);
      break;
  }
}

namespace {

struct Rgb { double r, g, b; };

Rgb bg_rgb(int index) {
  const uint8_t* c = background_palette()[index].rgb;
  return {c[0] / 255.0, c[1] / 255.0, c[2] / 255.0};
}
Rgb mix(Rgb a, Rgb b, double u) { return {a.r + (b.r - a.r) * u, a.g + (b.g - a.g) * u, a.b + (b.b - a.b) * u}; }

constexpr double kHorizon = 0.62;  // world y of the sky/ground line

// Background colour at world height y.
Rgb background_at(const Scene& s, double y) {
  const Rgb top = bg_rgb(s.bg_top), bottom = bg_rgb(s.bg_bottom);
  switch (s.background) {
    case Background::plain: return top;
    case Background::gradient: return mix(top, bottom, std::clamp(y, 0.0, 1.0));
    case Background::horizon:
      return y < kHorizon ? mix(top, mix(top, {1, 1, 1}, 0.25), std::clamp(y / kHorizon, 0.0, 1.0)) : bottom;
    case Background::night: return mix(top, mix(top, bottom, 0.35), std::clamp(y, 0.0, 1.0));
    case Background::stripes: {
      const double band = y / 0.125;
      return (int64_t(std::floor(band)) & 1) ? mix(top, bottom, 0.35) : top;
    }
  }
  return top;
}

struct View {
  double cx, cy, scale, w2, h2;  // scale: pixels per world unit
  double sx(double x) const { return (x - cx) * scale + w2; }
  double sy(double y) const { return (y - cy) * scale + h2; }
  double wy(double py) const { return (py - h2) / scale + cy; }
};

void fill_background(const Scene& s, const View& v, unsigned char* data, int stride, int W, int H) {
  std::vector<uint32_t> row(W);
  for (int y = 0; y < H; ++y) {
    // 4 sub-rows: anti-aliases the horizon and stripe edges.
    Rgb acc{0, 0, 0};
    for (int k = 0; k < 4; ++k) {
      const Rgb c = background_at(s, v.wy(y + (k + 0.5) / 4));
      acc.r += c.r / 4; acc.g += c.g / 4; acc.b += c.b / 4;
    }
    const uint32_t px = (uint32_t(acc.r * 255 + 0.5) << 16) | (uint32_t(acc.g * 255 + 0.5) << 8) |
                        uint32_t(acc.b * 255 + 0.5);
    uint32_t* dst = reinterpret_cast<uint32_t*>(data + size_t(y) * stride);
    std::fill(dst, dst + W, px);
  }
}

void stars(const Scene& s, const View& v, cairo_t* cr) {
  Rgb c{0.95, 0.95, 0.85};
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
  Rng rng(mix_seed(s.seed, 0x57a25));
  const double A = aspect(s), r = std::max(0.5, 0.004 * v.scale);
  for (int i = 0; i < 28; ++i) {
    const double x = rng.uniform(-0.5, A + 0.5), y = rng.uniform(-0.3, 0.55);
    cairo_arc(cr, v.sx(x), v.sy(y), r, 0, 2 * kPi);
    cairo_close_path(cr);
  }
  cairo_fill(cr);
}

void draw_object(cairo_t* cr, const View& v, const Object& o, const ObjectState& st, int W, int H) {
  if (!st.visible || st.radius <= 0) return;
  const double px = v.sx(st.x), py = v.sy(st.y), pr = st.radius * v.scale;
  if (px + 2 * pr < 0 || py + 2 * pr < 0 || px - 2 * pr > W || py - 2 * pr > H) return;
  cairo_save(cr);
  cairo_translate(cr, px, py);
  cairo_scale(cr, pr, pr);
  cairo_rotate(cr, st.angle);
  if (st.bitten) {
    // The bite is a disc cut out of the shape's edge, kept for the rest of the clip.
    cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
    cairo_rectangle(cr, -3, -3, 6, 6);
    cairo_arc(cr, std::cos(st.bite_angle), std::sin(st.bite_angle), 0.5, 0, 2 * kPi);
    cairo_close_path(cr);
    cairo_clip(cr);
    cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
  }
  shape_path(cr, o.shape);
  uint8_t c[3];
  color_rgb(st.color, c);
  cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
  if (o.shape == Shape::ring) cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
  cairo_fill(cr);
  cairo_restore(cr);
}

struct SurfaceDeleter { void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); } };
struct CairoDeleter { void operator()(cairo_t* c) const { cairo_destroy(c); } };

class Canvas {
 public:
  Canvas(int w, int h)
      : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h)), cr_(cairo_create(surface_.get())) {
    check(cairo_surface_status(surface_.get()) == CAIRO_STATUS_SUCCESS, "world.render",
          "cannot create a Cairo surface; got ", w, "x", h);
  }
  void draw(const Scene& s, const FrameState& st, Image& out) {
    const int W = s.width, H = s.height;
    cairo_surface_flush(surface_.get());
    unsigned char* data = cairo_image_surface_get_data(surface_.get());
    const int stride = cairo_image_surface_get_stride(surface_.get());
    const View v{st.camera.cx, st.camera.cy, st.camera.zoom * H, W / 2.0, H / 2.0};
    fill_background(s, v, data, stride, W, H);
    cairo_surface_mark_dirty(surface_.get());
    cairo_t* cr = cr_.get();
    if (s.background == Background::night) stars(s, v, cr);
    int max_layer = 0, min_layer = 0;
    for (const Object& o : s.objects) max_layer = std::max(max_layer, o.layer), min_layer = std::min(min_layer, o.layer);
    for (int layer = min_layer; layer <= max_layer; ++layer)
      for (size_t i = 0; i < s.objects.size(); ++i)
        if (s.objects[i].layer == layer) draw_object(cr, v, s.objects[i], st.objects[i], W, H);
    cairo_surface_flush(surface_.get());
    out.width = W;
    out.height = H;
    out.rgb.resize(size_t(W) * H * 3);
    uint8_t* dst = out.rgb.data();
    for (int y = 0; y < H; ++y) {
      const uint32_t* src = reinterpret_cast<const uint32_t*>(data + size_t(y) * stride);
      for (int x = 0; x < W; ++x, dst += 3) {
        const uint32_t p = src[x];
        dst[0] = uint8_t(p >> 16); dst[1] = uint8_t(p >> 8); dst[2] = uint8_t(p);
      }
    }
  }

 private:
  std::unique_ptr<cairo_surface_t, SurfaceDeleter> surface_;
  std::unique_ptr<cairo_t, CairoDeleter> cr_;
};

}  // namespace

void render_frame(const Scene& s, const FrameState& st, Image& out) {
  validate(s);
  Canvas(s.width, s.height).draw(s, st, out);
}

std::vector<Image> render(const Scene& s) {
  const std::vector<FrameState> states = simulate(s);
  Canvas canvas(s.width, s.height);
  std::vector<Image> frames(states.size());
  for (size_t f = 0; f < states.size(); ++f) canvas.draw(s, states[f], frames[f]);
  return frames;
}

}  // namespace kinema::world
