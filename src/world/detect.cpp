// Detection (see detect.hpp). Blur and compression smear edges into mixed colours, which the
// nearest-palette labelling turns into thin halos of other colours; those are dropped because
// they have almost no interior pixels. Shapes are matched by their radial profile (distance
// from the centroid to the outline at 64 angles) against templates drawn by the renderer.
#include "world/detect.hpp"

#include <algorithm>
#include <array>
#include <mutex>

#include "world/internal.hpp"

namespace kinema::world {
namespace {

constexpr int kBins = 64;
using Profile = std::array<double, kBins>;

struct Component { int label; std::vector<int> pixels; };

// Where an object's outline lies between pixel centres: the pixel colour's position between
// the background of its row (alpha 0) and the object's colour (alpha 1), sampled bilinearly,
// crosses one half. The binary mask alone puts the outline on whole pixels, which for a small
// shape is a staircase; H.264's half-resolution colour makes that staircase coarser still, and
// a small circle's then fits the hexagon template better than the circle's.
struct EdgeModel {
  const Image& img;
  const std::vector<std::array<uint8_t, 3>>& bg;  // per row
  double obj[3];

  double alpha(double x, double y) const {
    const int W = img.width, H = img.height;
    x = std::clamp(x, 0.0, W - 1.0);
    y = std::clamp(y, 0.0, H - 1.0);
    const int x0 = int(x), y0 = int(y), x1 = std::min(x0 + 1, W - 1), y1 = std::min(y0 + 1, H - 1);
    const double fx = x - x0, fy = y - y0;
    const std::array<uint8_t, 3>& b = bg[std::clamp(int(std::lround(y)), 0, H - 1)];
    double num = 0, den = 0;
    for (int c = 0; c < 3; ++c) {
      auto at = [&](int xx, int yy) { return double(img.rgb[(size_t(yy) * W + xx) * 3 + c]); };
      const double v = (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x1, y0)) + fy * ((1 - fx) * at(x0, y1) + fx * at(x1, y1));
      const double axis = obj[c] - b[c];
      num += (v - b[c]) * axis;
      den += axis * axis;
    }
    return den > 1 ? num / den : 0;
  }
};

// Radial profile of a binary mask around (cx, cy): outermost set point along each ray, moved
// to the sub-pixel outline within a pixel of it when an edge model is given, normalised to
// mean 1.
Profile radial_profile(const std::vector<uint8_t>& mask, int W, int H, double cx, double cy, double rmax,
                       const EdgeModel* edge) {
  Profile p{};
  for (int b = 0; b < kBins; ++b) {
    const double a = 2 * kPi * b / kBins, dx = std::cos(a), dy = std::sin(a);
    double last = 0;
    for (double r = 0; r <= rmax + 1; r += 0.35) {
      const int x = int(std::lround(cx + dx * r)), y = int(std::lround(cy + dy * r));
      if (x < 0 || y < 0 || x >= W || y >= H) break;
      if (mask[size_t(y) * W + x]) last = r;
    }
    p[b] = last + 0.5;
    if (!edge) continue;
    // From just outside the mask inwards, the first step where alpha reaches one half; the
    // crossing is interpolated within that step.
    constexpr double kStep = 0.25;
    double prev = edge->alpha(cx + dx * (last + 1.25), cy + dy * (last + 1.25));
    for (double r = last + 1.25 - kStep; r >= std::max(0.0, last - 1.0); r -= kStep) {
      const double cur = edge->alpha(cx + dx * r, cy + dy * r);
      if (cur >= 0.5 && prev < 0.5) {
        p[b] = r + kStep * (cur - 0.5) / std::max(1e-9, cur - prev);
        break;
      }
      prev = cur;
    }
  }
  double mean = 0;
  for (double v : p) mean += v;
  mean /= kBins;
  for (double& v : p) v /= std::max(mean, 1e-9);
  return p;
}

// Each shape's profile, sharp and angularly smoothed (a blurred silhouette loses its corners
// the way a smoothed profile does), so soft generated frames still match their shape.
constexpr int kSmoothings = 4;
struct Templates {
  std::array<std::array<Profile, kSmoothings>, kShapeCount> profile;
};

Profile smooth(const Profile& p, int half) {
  Profile out{};
  for (int b = 0; b < kBins; ++b) {
    double acc = 0;
    for (int k = -half; k <= half; ++k) acc += p[(b + k + kBins) % kBins];
    out[b] = acc / (2 * half + 1);
  }
  return out;
}

const Templates& templates() {
  static Templates t;
  static std::once_flag once;
  std::call_once(once, [] {
    for (int s = 0; s < kShapeCount; ++s) {
      Scene sc;
      sc.width = sc.height = 160;
      sc.frames = 1;
      sc.background = Background::plain;
      sc.bg_top = sc.bg_bottom = 1;
      Object o;
      o.shape = Shape(s); o.color = Color::black; o.size = Size::large; o.x = 0.5; o.y = 0.5;
      sc.objects.push_back(o);
      const std::vector<Image> img = render(sc);
      std::vector<uint8_t> mask(160 * 160);
      double cx = 0, cy = 0, n = 0;
      for (int i = 0; i < 160 * 160; ++i) {
        mask[i] = img[0].rgb[i * 3] < 110;
        if (mask[i]) cx += i % 160, cy += i / 160, ++n;
      }
      const std::vector<std::array<uint8_t, 3>> bg(160, {img[0].rgb[0], img[0].rgb[1], img[0].rgb[2]});
      uint8_t black[3];
      color_rgb(Color::black, black);
      const EdgeModel edge{img[0], bg, {double(black[0]), double(black[1]), double(black[2])}};
      const Profile sharp = radial_profile(mask, 160, 160, cx / n, cy / n, 60, &edge);
      for (int k = 0; k < kSmoothings; ++k) t.profile[s][k] = smooth(sharp, k);
    }
  });
  return t;
}

// Best template and rotation for a profile; ring vs others decided by hollowness first.
void classify(const Profile& p, bool hollow, Detection& d) {
  const Templates& t = templates();
  double best = 1e18;
  for (int s = 0; s < kShapeCount; ++s) {
    if ((Shape(s) == Shape::ring) != hollow) continue;
    for (int shift = 0; shift < kBins; ++shift)
      for (int k = 0; k < kSmoothings; ++k) {
        double e = 0;
        for (int b = 0; b < kBins; ++b) {
          const double v = p[(b + shift) % kBins] - t.profile[s][k][b];
          e += v * v;
        }
        if (e < best) {
          best = e;
          d.shape = Shape(s);
          d.angle = 2 * kPi * shift / kBins;
        }
      }
  }
  d.fit = best / kBins;
}

// The k-fold harmonics of a profile: a shape turned by phi has its profile shifted by phi, so
// the k-th Fourier coefficient's phase moves by -k phi.
void orient(const Profile& p, Detection& d) {
  for (int k = 2; k <= 6; ++k) {
    double re = 0, im = 0;
    for (int b = 0; b < kBins; ++b) {
      const double a = 2 * kPi * b * k / kBins;
      re += p[b] * std::cos(a);
      im -= p[b] * std::sin(a);
    }
    d.harmonic_angle[k] = -std::atan2(im, re) / k;
    d.harmonic_strength[k] = 2 * std::hypot(re, im) / kBins;
  }
}

}  // namespace

std::vector<std::array<uint8_t, 3>> row_background(const Image& f) {
  std::vector<std::array<uint8_t, 3>> bg(f.height);
  std::vector<uint8_t> v(f.width);
  for (int y = 0; y < f.height; ++y)
    for (int c = 0; c < 3; ++c) {
      for (int x = 0; x < f.width; ++x) v[x] = f.rgb[(size_t(y) * f.width + x) * 3 + c];
      std::nth_element(v.begin(), v.begin() + f.width / 2, v.end());
      bg[y][c] = v[f.width / 2];
    }
  return bg;
}

int symmetry_order(Shape s) {
  switch (s) {
    case Shape::square: case Shape::cross: return 4;
    case Shape::triangle: return 3;
    case Shape::star: return 5;
    case Shape::hexagon: return 6;
    case Shape::heart: return 1;
    default: return 0;
  }
}

std::vector<Detection> detect(const Image& f) {
  const int W = f.width, H = f.height;
  const auto bg = row_background(f);
  uint8_t pal[kColorCount][3];
  for (int c = 0; c < kColorCount; ++c) color_rgb(Color(c), pal[c]);
  std::vector<int8_t> label(size_t(W) * H, -1);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const uint8_t* p = &f.rgb[(size_t(y) * W + x) * 3];
      double best = 1e9;
      int arg = -1;
      for (int c = 0; c < kColorCount; ++c) {
        const double d = color_dist(p, pal[c]);
        if (d < best) best = d, arg = c;
      }
      if (best < 140 && best < color_dist(p, bg[y].data()) * 0.8) label[size_t(y) * W + x] = int8_t(arg);
    }
  // Connected components (4-neighbourhood) per colour label.
  std::vector<int> comp(size_t(W) * H, -1), stack;
  std::vector<Detection> out;
  std::vector<uint8_t> mask(size_t(W) * H, 0);
  const double min_area = std::max(6.0, 0.0012 * W * H);
  for (int start = 0; start < W * H; ++start) {
    if (label[start] < 0 || comp[start] >= 0) continue;
    const int lab = label[start];
    std::vector<int> pix;
    stack.assign(1, start);
    comp[start] = start;
    while (!stack.empty()) {
      const int i = stack.back();
      stack.pop_back();
      pix.push_back(i);
      const int x = i % W, y = i / W;
      const int nb[4] = {x > 0 ? i - 1 : -1, x + 1 < W ? i + 1 : -1, y > 0 ? i - W : -1, y + 1 < H ? i + W : -1};
      for (int j : nb)
        if (j >= 0 && comp[j] < 0 && label[j] == lab) comp[j] = start, stack.push_back(j);
    }
    if (double(pix.size()) < min_area) continue;
    int interior = 0;
    double cx = 0, cy = 0, rgb[3] = {0, 0, 0};
    for (int i : pix) {
      const int x = i % W, y = i / W;
      cx += x; cy += y;
      const bool inside = x > 0 && x + 1 < W && y > 0 && y + 1 < H && comp[i - 1] == start &&
                          comp[i + 1] == start && comp[i - W] == start && comp[i + W] == start;
      interior += inside;
      for (int c = 0; inside && c < 3; ++c) rgb[c] += f.rgb[size_t(i) * 3 + c];
    }
    if (interior < 0.3 * pix.size() || interior < 4) continue;  // a blur halo, not an object
    Detection d;
    for (int c = 0; c < 3; ++c) d.rgb[c] = rgb[c] / interior;
    d.color = Color(lab);
    d.area = double(pix.size());
    d.cx = cx / pix.size();
    d.cy = cy / pix.size();
    double rmax = 0;
    for (int i : pix) rmax = std::max(rmax, std::hypot(i % W - d.cx, i / W - d.cy)), mask[i] = 1;
    // Ring: the disc of radius 0.3*rmax around the centroid is mostly empty.
    int inner = 0, inner_set = 0;
    const int r3 = int(0.3 * rmax);
    for (int dy = -r3; dy <= r3; ++dy)
      for (int dx = -r3; dx <= r3; ++dx) {
        const int x = int(std::lround(d.cx)) + dx, y = int(std::lround(d.cy)) + dy;
        if (dx * dx + dy * dy > r3 * r3 || x < 0 || y < 0 || x >= W || y >= H) continue;
        ++inner;
        inner_set += mask[size_t(y) * W + x];
      }
    const bool hollow = inner > 0 && inner_set < 0.35 * inner;
    const EdgeModel edge{f, bg, {d.rgb[0], d.rgb[1], d.rgb[2]}};
    const Profile profile = radial_profile(mask, W, H, d.cx, d.cy, rmax, &edge);
    classify(profile, hollow, d);
    orient(profile, d);
    for (int i : pix) mask[i] = 0;
    out.push_back(d);
  }
  return out;
}

}  // namespace kinema::world
