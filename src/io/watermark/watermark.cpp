// kinema's invisible watermark: embedding and detection (see kinema/watermark.hpp for the
// contracts and docs/safety-watermark.md for the design and the measurements).
#include "kinema/watermark.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "kinema/error.hpp"

namespace kinema {
namespace {

constexpr int kGrid = kWatermarkGrid;
constexpr int kCells = kGrid * kGrid;
// Residual clip (8-bit levels): the mark is ~2 levels, so object edges and texture, which
// would otherwise dominate the correlation, count no more than a few marked pixels each.
constexpr double kResidualClip = 4.0;
// Detector weight 1 / (1 + E / kResidualEnergy), E the residual's mean square over about a
// cell: the mark alone gives E ~ 2.5 (weight ~0.8), texture E ~ 16 (clipped; weight ~0.4).
constexpr double kResidualEnergy = 10.0;
// Range scale of the edge-preserving mean (8-bit levels): neighbours that differ by much more
// than the mark's peak-to-peak (~6) are other content and do not count.
constexpr float kRangeSigma = 8.f;
// Radius of the edge-preserving mean, in cells. Smaller leaves a narrower band of residual
// along low-contrast edges (striped backgrounds); larger keeps more of the mark. 0.6 was best
// on 200 world renders among {0.6, 1, 1.4} x range sigma {6, 8, 10, 14} (weakest z 10 vs 2-6).
constexpr double kWindow = 0.6;
// Frames are averaged in up to this many runs before the content is removed from each.
constexpr int kGroups = 8;
// Crop search: the visible part is `scale` of each original side; offsets step a third of a
// cell, so a crop anywhere is within a sixth of a cell of a searched geometry.
constexpr double kScales[] = {1.0, 0.95, 0.9, 0.85};
constexpr double kOffsetStep = 1.0 / (3 * kGrid);
// Embedding mask: gain kMaskFlat on flat areas rising with activity to kMaskMax on texture.
// Kept mild because the detector discounts busy areas (see kActivityScale): mark energy spent
// on edges buys invisibility but no detection, and the PSNR budget is fixed.
constexpr float kMaskFlat = 0.85f, kMaskSlope = 0.05f, kMaskMax = 1.3f;

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The key's ±1 cells, row-major [kGrid, kGrid].
std::vector<float> key_pattern(const WatermarkKey& key) {
  const uint64_t seed = splitmix64(key.project ^ splitmix64(key.operator_key ^ 0x5741544552ULL));
  std::vector<float> p(kCells);
  for (int c = 0; c < kCells; ++c) p[c] = (splitmix64(seed + uint64_t(c)) >> 63) ? 1.f : -1.f;
  return p;
}

// Bilinear interpolation position of normalized coordinate u in [0, 1] on the cell-centre
// lattice: cells i0 and i0 + 1 with weights 1 - t and t (clamped at the borders).
struct Tap {
  int i0;
  float t;
};
Tap tap(double u) {
  double g = std::clamp(u * kGrid - 0.5, 0.0, double(kGrid - 1));
  int i0 = std::min(int(g), kGrid - 2);
  return {i0, float(g - i0)};
}

void check_frames(const std::vector<Frame>& frames, const char* where) {
  check(!frames.empty(), where, "no frames");
  const int w = frames[0].width, h = frames[0].height;
  check(w >= 16 && h >= 16, where, "frames must be at least 16x16; got ", w, "x", h);
  for (size_t i = 0; i < frames.size(); ++i) {
    const Frame& f = frames[i];
    check(f.width == w && f.height == h, where, "frame ", i, " is ", f.width, "x", f.height,
          "; expected ", w, "x", h, " like frame 0");
    check(f.rgb.size() == size_t(w) * h * 3, where, "frame ", i, " holds ", f.rgb.size(),
          " bytes; expected ", size_t(w) * h * 3, " (RGB24)");
  }
}

void luma(const Frame& f, std::vector<float>& y) {  // [h, w], BT.601 weights
  const size_t n = size_t(f.width) * f.height;
  y.resize(n);
  for (size_t i = 0; i < n; ++i)
    y[i] = 0.299f * f.rgb[3 * i] + 0.587f * f.rgb[3 * i + 1] + 0.114f * f.rgb[3 * i + 2];
}

// Box mean over a (2r+1)^2 window with clamped borders, separable running sums. [h, w]
std::vector<float> box_mean(const std::vector<float>& in, int w, int h, int r) {
  std::vector<float> tmp(in.size()), out(in.size());
  const float inv = 1.f / float(2 * r + 1);
  for (int y = 0; y < h; ++y) {
    const float* row = &in[size_t(y) * w];
    double s = 0;
    for (int k = -r; k <= r; ++k) s += row[std::clamp(k, 0, w - 1)];
    for (int x = 0; x < w; ++x) {
      tmp[size_t(y) * w + x] = float(s) * inv;
      s += row[std::min(x + r + 1, w - 1)] - row[std::max(x - r, 0)];
    }
  }
  for (int x = 0; x < w; ++x) {
    double s = 0;
    for (int k = -r; k <= r; ++k) s += tmp[size_t(std::clamp(k, 0, h - 1)) * w + x];
    for (int y = 0; y < h; ++y) {
      out[size_t(y) * w + x] = float(s) * inv;
      s += tmp[size_t(std::min(y + r + 1, h - 1)) * w + x] - tmp[size_t(std::max(y - r, 0)) * w + x];
    }
  }
  return out;
}

// |dY/dx| + |dY/dy| (forward differences, clamped at the border). [h, w]
std::vector<float> gradient_activity(const std::vector<float>& y, int w, int h) {
  std::vector<float> g(y.size());
  for (int yy = 0; yy < h; ++yy)
    for (int x = 0; x < w; ++x) {
      const size_t i = size_t(yy) * w + x;
      g[i] = std::abs(y[size_t(yy) * w + std::min(x + 1, w - 1)] - y[i]) +
             std::abs(y[size_t(std::min(yy + 1, h - 1)) * w + x] - y[i]);
    }
  return g;
}

// Mean over a (2r+1)^2 window (sampled on at most 9x9 taps) of the neighbours, each
// weighted by exp(-d^2 / (2 sigma^2)) for its luma difference d to the centre: a box
// bilateral filter. [h, w]
std::vector<float> edge_preserving_mean(const std::vector<float>& y, int w, int h, int r) {
  constexpr int kLut = 1024;  // weights for |d| in [0, 256) at quarter-level resolution
  float lut[kLut];
  for (int k = 0; k < kLut; ++k) {
    const float d = k * 0.25f;
    lut[k] = std::exp(-0.5f * d * d / (kRangeSigma * kRangeSigma));
  }
  const int stride = (2 * r + 1 + 8) / 9, half = r / stride * stride;  // taps include the centre
  std::vector<float> out(y.size());
  for (int yy = 0; yy < h; ++yy)
    for (int x = 0; x < w; ++x) {
      const float c = y[size_t(yy) * w + x];
      float sw = 0, sv = 0;
      for (int dy = -half; dy <= half; dy += stride) {
        const float* row = &y[size_t(std::clamp(yy + dy, 0, h - 1)) * w];
        for (int dx = -half; dx <= half; dx += stride) {
          const float v = row[std::clamp(x + dx, 0, w - 1)];
          const float wt = lut[std::min(int(std::abs(v - c) * 4.f), kLut - 1)];
          sw += wt, sv += wt * v;
        }
      }
      out[size_t(yy) * w + x] = sv / sw;
    }
  return out;
}

// The smooth pattern at full frame geometry: P(x, y) in [-1, 1]. [h, w]
std::vector<float> render_pattern(const std::vector<float>& cells, int w, int h) {
  std::vector<Tap> tx(w), ty(h);
  for (int x = 0; x < w; ++x) tx[x] = tap((x + 0.5) / w);
  for (int y = 0; y < h; ++y) ty[y] = tap((y + 0.5) / h);
  std::vector<float> p(size_t(w) * h);
  for (int y = 0; y < h; ++y) {
    const float* r0 = &cells[size_t(ty[y].i0) * kGrid];
    const float* r1 = r0 + kGrid;
    const float b = ty[y].t;
    for (int x = 0; x < w; ++x) {
      const int i = tx[x].i0;
      const float a = tx[x].t;
      const float top = r0[i] + a * (r0[i + 1] - r0[i]), bot = r1[i] + a * (r1[i + 1] - r1[i]);
      p[size_t(y) * w + x] = top + b * (bot - top);
    }
  }
  return p;
}

// z of one geometry: the residual scattered onto the cells with the embedder's bilinear weights
// (the matched filter), then sum_c p_c w_c / sqrt(sum_c w_c^2). For unmarked content the p_c are
// independent fair signs, so this is a Rademacher sum with unit variance.
double geometry_score(const std::vector<float>& res, int w, int h, const std::vector<float>& cells,
                      double scale, double ox, double oy, std::vector<double>& acc) {
  std::vector<Tap> tx(w), ty(h);
  for (int x = 0; x < w; ++x) tx[x] = tap(ox + scale * (x + 0.5) / w);
  for (int y = 0; y < h; ++y) ty[y] = tap(oy + scale * (y + 0.5) / h);
  std::fill(acc.begin(), acc.end(), 0.0);
  for (int y = 0; y < h; ++y) {
    double* a0 = &acc[size_t(ty[y].i0) * kGrid];
    double* a1 = a0 + kGrid;
    const double b = ty[y].t;
    const float* row = &res[size_t(y) * w];
    for (int x = 0; x < w; ++x) {
      const double v = row[x], a = tx[x].t;
      const int i = tx[x].i0;
      const double top = v * (1 - b), bot = v * b;
      a0[i] += top * (1 - a), a0[i + 1] += top * a;
      a1[i] += bot * (1 - a), a1[i + 1] += bot * a;
    }
  }
  double dot = 0, norm = 0;
  for (int c = 0; c < kCells; ++c) dot += cells[c] * acc[c], norm += acc[c] * acc[c];
  return norm > 0 ? dot / std::sqrt(norm) : 0.0;
}

// A bound on P(sum_i a_i e_i >= t) for independent fair signs e_i and sum_i a_i^2 = 1, valid
// for any weights a (so for any content): Hoeffding's exp(-t^2/2), and Bentkus & Dzindzalieta
// (Bernoulli 21(2), 2015) c * P(N(0,1) >= t) with c = 1 / (4 P(N(0,1) >= sqrt 2)) ~ 3.18,
// which is the tighter one beyond t ~ 1.6.
double rademacher_tail(double t) {
  if (t <= 0) return 1.0;
  const double gauss = 0.5 * std::erfc(t / std::sqrt(2.0));
  const double c = 1.0 / (4 * 0.5 * std::erfc(1.0));  // erfc(sqrt2 / sqrt2) = erfc(1)
  return std::min({1.0, std::exp(-0.5 * t * t), c * gauss});
}

}  // namespace

uint64_t watermark_operator_key(const std::string& passphrase) {
  if (passphrase.empty()) return 0;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : passphrase) h = (h ^ c) * 0x100000001b3ULL;
  return h ? h : 1;
}

void embed_watermark(std::vector<Frame>& frames, const WatermarkKey& key) {
  check_frames(frames, "watermark");
  const int w = frames[0].width, h = frames[0].height;
  const size_t n = size_t(w) * h;
  const std::vector<float> pattern = render_pattern(key_pattern(key), w, h);
  // Perceptual mask from local gradient activity over about a cell: flat areas (where a
  // mottle would show) get the least, texture and edges more; then the frame's offset is
  // normalized to kWatermarkRms, which fixes PSNR at about 20 log10(255 / 1.8) = 43 dB.
  const int r = std::max(1, std::min(w, h) / (2 * kGrid));
  std::vector<float> y, d(n);
  for (Frame& f : frames) {
    luma(f, y);
    const std::vector<float> a = box_mean(gradient_activity(y, w, h), w, h, r);
    double energy = 0;
    for (size_t i = 0; i < n; ++i) {
      d[i] = pattern[i] * std::clamp(kMaskFlat + kMaskSlope * a[i], kMaskFlat, kMaskMax);
      energy += double(d[i]) * d[i];
    }
    const float gain = float(kWatermarkRms / std::sqrt(std::max(energy / double(n), 1e-12)));
    for (size_t i = 0; i < n; ++i) {
      const float off = d[i] * gain;
      for (int c = 0; c < 3; ++c) {
        const float v = std::round(f.rgb[3 * i + c] + off);
        f.rgb[3 * i + c] = uint8_t(std::clamp(v, 0.f, 255.f));
      }
    }
  }
}

WatermarkResult detect_watermark(const std::vector<Frame>& frames, const WatermarkKey& key) {
  check_frames(frames, "detect_watermark");
  const int w = frames[0].width, h = frames[0].height;
  const size_t n = size_t(w) * h;
  // The frames are split into up to kGroups runs of consecutive frames; each run's mean luma
  // (in which the static mark adds up and moving content barely moves) has its content removed
  // with an edge-preserving local mean over ~0.6 cell: flat shapes, gradients and stripes,
  // the bulk of generated content, leave almost no residual. The clipped residuals are then
  // averaged over the runs, and areas whose residual is still strong (texture, noise, content
  // that moved) are down-weighted: there it is content, not mark.
  const int r = std::max(1, int(std::lround(kWindow * std::min(w, h) / double(kGrid))));
  const int groups = std::min<int>(kGroups, int(frames.size()));
  std::vector<float> res(n, 0.f), group_mean(n), y;
  for (int g = 0; g < groups; ++g) {
    const size_t begin = frames.size() * g / groups, end = frames.size() * (g + 1) / groups;
    std::fill(group_mean.begin(), group_mean.end(), 0.f);
    for (size_t t = begin; t < end; ++t) {
      luma(frames[t], y);
      for (size_t i = 0; i < n; ++i) group_mean[i] += y[i];
    }
    for (float& v : group_mean) v /= float(end - begin);
    const std::vector<float> low = edge_preserving_mean(group_mean, w, h, r);
    for (size_t i = 0; i < n; ++i)
      res[i] += float(std::clamp(double(group_mean[i] - low[i]), -kResidualClip, kResidualClip)) / groups;
  }
  std::vector<float> res2(n);
  for (size_t i = 0; i < n; ++i) res2[i] = res[i] * res[i];
  const std::vector<float> energy = box_mean(res2, w, h, r);
  for (size_t i = 0; i < n; ++i) res[i] /= 1 + energy[i] / kResidualEnergy;

  const std::vector<float> cells = key_pattern(key);
  std::vector<double> acc(kCells);
  WatermarkResult best;
  best.score = -1e30;
  int geometries = 0;
  for (double s : kScales) {
    const int steps = int(std::ceil((1 - s) / kOffsetStep - 1e-9));
    for (int j = 0; j <= steps; ++j)
      for (int i = 0; i <= steps; ++i) {
        const double ox = steps ? (1 - s) * i / steps : 0, oy = steps ? (1 - s) * j / steps : 0;
        const double z = geometry_score(res, w, h, cells, s, ox, oy, acc);
        ++geometries;
        if (z > best.score) best.score = z, best.scale = s, best.offset_x = ox, best.offset_y = oy;
      }
  }
  best.geometries = geometries;
  best.frames = int(frames.size());
  best.correlation = best.score / std::sqrt(double(kCells));
  best.p_value = std::min(1.0, geometries * rademacher_tail(best.score));
  best.confidence = 1 - best.p_value;
  best.detected = best.p_value <= kWatermarkPThreshold;
  return best;
}

}  // namespace kinema
