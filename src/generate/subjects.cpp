// Subject drift and identity (kinema/subjects.hpp). Detection is the world judge's (colour
// segmentation, shape templates); tracking is by place and colour inside a chunk, because a
// generated subject moves a little and its colour may drift slowly; across a seam (a chunk
// boundary or a cut to another framing) places jump, so tracks are linked by shape and the
// nearest colour instead.
#include "kinema/subjects.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "kinema/error.hpp"
#include "world/detect.hpp"

namespace kinema {

Lab srgb_to_lab(double r, double g, double b) {
  // IEC 61966-2-1 sRGB to linear, then XYZ (D65) and CIE 1976 L*a*b*.
  auto lin = [](double c) { c /= 255.0; return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); };
  const double R = lin(r), G = lin(g), B = lin(b);
  const double X = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
  const double Y = 0.2126729 * R + 0.7151522 * G + 0.0721750 * B;
  const double Z = (0.0193339 * R + 0.1191920 * G + 0.9503041 * B) / 1.08883;
  auto f = [](double t) { return t > 216.0 / 24389 ? std::cbrt(t) : t * 24389.0 / 27 / 116 + 16.0 / 116; };
  return {116 * f(Y) - 16, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))};
}

double ciede2000(const Lab& x, const Lab& y) {
  constexpr double kDeg = 3.14159265358979323846 / 180, k25p7 = 6103515625.0;  // 25^7
  const double C1 = std::hypot(x[1], x[2]), C2 = std::hypot(y[1], y[2]), Cb = (C1 + C2) / 2;
  const double G = 0.5 * (1 - std::sqrt(std::pow(Cb, 7) / (std::pow(Cb, 7) + k25p7)));
  const double a1 = (1 + G) * x[1], a2 = (1 + G) * y[1];
  const double C1p = std::hypot(a1, x[2]), C2p = std::hypot(a2, y[2]);
  auto hue = [&](double b, double a) {
    if (a == 0 && b == 0) return 0.0;
    const double h = std::atan2(b, a) / kDeg;
    return h < 0 ? h + 360 : h;
  };
  const double h1 = hue(x[2], a1), h2 = hue(y[2], a2);
  const double dL = y[0] - x[0], dC = C2p - C1p;
  double dh = 0;
  if (C1p * C2p != 0) dh = h2 - h1 > 180 ? h2 - h1 - 360 : h2 - h1 < -180 ? h2 - h1 + 360 : h2 - h1;
  const double dH = 2 * std::sqrt(C1p * C2p) * std::sin(dh / 2 * kDeg);
  const double Lb = (x[0] + y[0]) / 2, Cbp = (C1p + C2p) / 2;
  double hb = h1 + h2;
  if (C1p * C2p != 0) hb = std::abs(h1 - h2) <= 180 ? hb / 2 : hb < 360 ? (hb + 360) / 2 : (hb - 360) / 2;
  const double T = 1 - 0.17 * std::cos((hb - 30) * kDeg) + 0.24 * std::cos(2 * hb * kDeg) +
                   0.32 * std::cos((3 * hb + 6) * kDeg) - 0.20 * std::cos((4 * hb - 63) * kDeg);
  const double dtheta = 30 * std::exp(-std::pow((hb - 275) / 25, 2));
  const double Rc = 2 * std::sqrt(std::pow(Cbp, 7) / (std::pow(Cbp, 7) + k25p7));
  const double Sl = 1 + 0.015 * std::pow(Lb - 50, 2) / std::sqrt(20 + std::pow(Lb - 50, 2));
  const double Sc = 1 + 0.045 * Cbp, Sh = 1 + 0.015 * Cbp * T, Rt = -std::sin(2 * dtheta * kDeg) * Rc;
  const double l = dL / Sl, c = dC / Sc, h = dH / Sh;
  return std::sqrt(l * l + c * c + h * h + Rt * c * h);
}

void SubjectMeter::add(const Frame& frame) {
  const int t = count_++;
  height_ = frame.height;
  if (t % std::max(1, options_.stride) != 0) return;
  world::Image img{frame.width, frame.height, frame.rgb};
  for (const world::Detection& d : world::detect(img))
    seen_.push_back({t, int(d.color), int(d.shape), d.cx, d.cy, d.area, srgb_to_lab(d.rgb[0], d.rgb[1], d.rgb[2])});
}

namespace {

using Seen = SubjectMeter::Seen;

struct Track {
  std::vector<const Seen*> dets;  // in frame order
  int segment = 0, chain = -1;
  bool subject = false;
};

template <class F>
double median_of(const std::vector<const Seen*>& v, F get) {
  std::vector<double> x;
  for (const Seen* s : v) x.push_back(get(*s));
  std::sort(x.begin(), x.end());
  const size_t h = x.size() / 2;
  return x.empty() ? 0 : x.size() % 2 ? x[h] : 0.5 * (x[h - 1] + x[h]);
}

Lab median_lab(const std::vector<const Seen*>& v) {
  return {median_of(v, [](const Seen& s) { return s.lab[0]; }), median_of(v, [](const Seen& s) { return s.lab[1]; }),
          median_of(v, [](const Seen& s) { return s.lab[2]; })};
}

// The detections of a track inside [from, to).
std::vector<const Seen*> between(const Track& t, int from, int to) {
  std::vector<const Seen*> out;
  for (const Seen* s : t.dets)
    if (s->frame >= from && s->frame < to) out.push_back(s);
  return out;
}

// Most frequent (colour, shape) of some detections.
std::pair<int, int> modal(const std::vector<const Seen*>& v) {
  std::map<std::pair<int, int>, int> n;
  for (const Seen* s : v) ++n[{s->color, s->shape}];
  std::pair<int, int> best{0, 0};
  int most = 0;
  for (const auto& [k, c] : n)
    if (c > most) most = c, best = k;
  return best;
}

std::string describe(std::pair<int, int> cs) {
  return std::string(world::color_name(world::Color(cs.first))) + " " + world::shape_name(world::Shape(cs.second));
}

// Greedy tracking inside one segment: each detection joins the active track nearest in place
// (within `reach` pixels) whose colour is within the gate, else starts a track.
void track_segment(const std::vector<Seen>& seen, int from, int to, int seg, double reach, const SubjectOptions& o,
                   std::vector<Track>& tracks) {
  const size_t first = tracks.size();
  const int gap = 3 * std::max(1, o.stride);  // frames a track may go unseen
  for (size_t i = 0; i < seen.size();) {
    const int f = seen[i].frame;
    size_t j = i;
    while (j < seen.size() && seen[j].frame == f) ++j;
    if (f >= from && f < to) {
      struct Pair { double cost; size_t track, det; };
      std::vector<Pair> pairs;
      for (size_t t = first; t < tracks.size(); ++t) {
        const Seen& last = *tracks[t].dets.back();
        if (f - last.frame > gap) continue;
        for (size_t d = i; d < j; ++d) {
          const double dist = std::hypot(seen[d].cx - last.cx, seen[d].cy - last.cy), de = ciede2000(last.lab, seen[d].lab);
          if (dist < reach && de < o.track_delta_e) pairs.push_back({dist / reach + de / o.track_delta_e, t, d});
        }
      }
      std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.cost < b.cost; });
      std::vector<bool> used_t(tracks.size(), false), used_d(j - i, false);
      for (const Pair& p : pairs)
        if (!used_t[p.track] && !used_d[p.det - i])
          used_t[p.track] = used_d[p.det - i] = true, tracks[p.track].dets.push_back(&seen[p.det]);
      for (size_t d = i; d < j; ++d)
        if (!used_d[d - i]) tracks.push_back({{&seen[d]}, seg});
    }
    i = j;
  }
}

}  // namespace

namespace {

// Links the subjects at the end of segment s to those at the start of s + 1: same shape and the
// nearest colour within the gate, whatever their places (a cut moves and resizes everything).
void link_seam(std::vector<Track>& tracks, int seg, int seam, const SubjectOptions& o) {
  struct Pair { double de; size_t a, b; };
  std::vector<Pair> pairs;
  for (size_t a = 0; a < tracks.size(); ++a) {
    if (!tracks[a].subject || tracks[a].segment != seg) continue;
    auto end = between(tracks[a], seam - o.window, seam);
    if (end.empty()) continue;
    end.erase(end.begin(), end.end() - std::min<ptrdiff_t>(3, ptrdiff_t(end.size())));  // the last 3 before
    for (size_t b = 0; b < tracks.size(); ++b) {
      if (!tracks[b].subject || tracks[b].segment != seg + 1 || tracks[b].chain >= 0) continue;
      auto start = between(tracks[b], seam, seam + o.window);
      if (start.empty()) continue;
      start.resize(std::min<size_t>(3, start.size()));  // the first 3 after: a drifting colour stays linked
      if (modal(start).second != modal(end).second) continue;
      const double de = ciede2000(median_lab(end), median_lab(start));
      if (de < o.track_delta_e) pairs.push_back({de, a, b});
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.de < y.de; });
  std::vector<bool> used(tracks.size(), false);
  for (const Pair& p : pairs)
    if (!used[p.a] && !used[p.b]) used[p.a] = used[p.b] = true, tracks[p.b].chain = tracks[p.a].chain;
}

// Identity at a seam, as the world judge reads it: each subject seen in the window before is
// found in the window after when a subject there has the same named colour and shape.
SeamIdentity identity_at(const std::vector<Track>& tracks, int seg, int seam, const SubjectOptions& o) {
  SeamIdentity id;
  id.frame = seam;
  std::map<std::pair<int, int>, int> after;
  for (const Track& t : tracks)
    if (t.subject && t.segment == seg + 1)
      if (const auto v = between(t, seam, seam + o.window); !v.empty()) ++after[modal(v)];
  for (const Track& t : tracks) {
    if (!t.subject || t.segment != seg) continue;
    const auto v = between(t, seam - o.window, seam);
    if (v.empty()) continue;
    ++id.before;
    if (int& n = after[modal(v)]; n > 0) --n, ++id.found;
    else id.lost.push_back(describe(modal(v)));
  }
  return id;
}

// Drift of one chain of tracks: median colour and size in the first and last chunk it is seen
// in (in one chunk: the first and last quarter of its detections).
SubjectDrift drift_of(const std::vector<const Track*>& chain) {
  std::vector<const Seen*> a = chain.front()->dets, b = chain.back()->dets;
  if (chain.size() == 1) {
    const size_t q = std::max<size_t>(1, (a.size() + 3) / 4);
    b.assign(a.end() - ptrdiff_t(q), a.end());
    a.resize(q);
  }
  SubjectDrift d;
  const auto cs = modal(a);
  d.color = world::color_name(world::Color(cs.first)), d.shape = world::shape_name(world::Shape(cs.second));
  d.first_frame = chain.front()->dets.front()->frame, d.last_frame = chain.back()->dets.back()->frame;
  d.lab_first = median_lab(a), d.lab_last = median_lab(b);
  d.delta_e = ciede2000(d.lab_first, d.lab_last);
  const double area_a = median_of(a, [](const Seen& s) { return s.area; });
  d.size_ratio = area_a > 0 ? std::sqrt(median_of(b, [](const Seen& s) { return s.area; }) / area_a) : 1;
  d.chunks = int(chain.size());
  return d;
}

}  // namespace

SubjectReport SubjectMeter::finish(const std::vector<int>& seams_at) const {
  const int stride = std::max(1, options_.stride);
  std::vector<int> bounds{0};
  for (int s : seams_at)
    if (s > 0 && s < count_ && s > bounds.back()) bounds.push_back(s);
  bounds.push_back(count_);
  std::vector<Track> tracks;
  const double reach = std::max(6.0, 0.25 * height_);
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    const size_t first = tracks.size();
    track_segment(seen_, bounds[s], bounds[s + 1], int(s), reach, options_, tracks);
    // Sampled frames in the segment: a track seen in too few of them is noise, not a subject.
    const int sampled = (bounds[s + 1] - 1) / stride - (bounds[s] + stride - 1) / stride + 1;
    for (size_t t = first; t < tracks.size(); ++t)
      tracks[t].subject = double(tracks[t].dets.size()) >= std::max(1.0, options_.min_presence * sampled);
  }
  int chains = 0;
  SubjectReport r;
  r.sampled_frames = count_ > 0 ? (count_ - 1) / stride + 1 : 0;
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    for (Track& t : tracks)
      if (t.subject && t.segment == int(s) && t.chain < 0) t.chain = chains++;
    if (s + 2 < bounds.size()) {
      link_seam(tracks, int(s), bounds[s + 1], options_);
      r.seams.push_back(identity_at(tracks, int(s), bounds[s + 1], options_));
      r.before += r.seams.back().before, r.found += r.seams.back().found;
    }
  }
  std::vector<std::vector<const Track*>> chain(static_cast<size_t>(chains));
  for (const Track& t : tracks)
    if (t.subject) chain[size_t(t.chain)].push_back(&t);
  for (const auto& c : chain) {
    r.subjects.push_back(drift_of(c));
    r.max_delta_e = std::max(r.max_delta_e, r.subjects.back().delta_e);
    r.max_size_change = std::max(r.max_size_change, std::abs(r.subjects.back().size_ratio - 1));
  }
  return r;
}

SubjectReport subject_report(const std::vector<Frame>& frames, const std::vector<int>& seams,
                             const SubjectOptions& options) {
  SubjectOptions o = options;
  if (o.stride <= 0) o.stride = std::max(1, int(frames.size()) / 240);
  SubjectMeter m(o);
  for (const Frame& f : frames) m.add(f);
  return m.finish(seams);
}

}  // namespace kinema
