// A plan that agrees with given frames (world::align_plan): when generation is given frames
// (image-to-video, extend, join, loop's second pass, a long video's chunks), the expanded
// prompt's scene places its objects where the words and the seed put them, not where the frames
// show them. The judge's detector reads one given frame; each planned object of a seen colour is
// moved (and resized) to meet its detection there, keeping the motion the words gave it, and what
// the frame shows that the words did not name is kept as a still object, so the plan neither
// contradicts the frames nor forgets their subjects.
#include <algorithm>
#include <cmath>

#include "kinema/error.hpp"
#include "kinema/world_latents.hpp"
#include "world/detect.hpp"
#include "world/internal.hpp"

namespace kinema::world {
namespace {

// A detection kept as a subject: a quarter of a small object's disc at least (the detector keeps
// specks of 0.12% of the frame; a plan object made of one would be drawn as a new subject).
double min_subject_area(const Image& f) {
  const double r = size_radius(Size::small) * f.height;
  return 0.25 * kPi * r * r;
}

// The frame the plan is pinned to: the last of the frames given from the start (image-to-video,
// extend forward, join's first clip), else the first given (extend backward): the given frame
// next to the frames to be made.
int anchor_frame(std::vector<int> given) {
  std::sort(given.begin(), given.end());
  if (given.front() != 0) return given.front();
  size_t k = 0;
  while (k + 1 < given.size() && given[k + 1] == given[k] + 1) ++k;
  return given[k];
}

// The share of its disc a shape's detection covers (a ring's or star's much less than a
// square's), measured once by drawing each shape large on a plain frame and detecting it.
double disc_share(Shape shape) {
  static const std::vector<double> share = [] {
    std::vector<double> v(kShapeCount, 1.0);
    for (int k = 0; k < kShapeCount; ++k) {
      Scene s;
      s.frames = 1;
      s.objects.push_back(Object{});
      s.objects[0].shape = Shape(k), s.objects[0].size = Size::large, s.objects[0].color = Color::blue;
      const std::vector<Detection> d = detect(render(s)[0]);
      const double r = size_radius(Size::large) * s.height;
      if (!d.empty()) v[size_t(k)] = std::max_element(d.begin(), d.end(), [](const Detection& a, const Detection& b) {
                                      return a.area < b.area;
                                    })->area / (kPi * r * r);
    }
    return v;
  }();
  return share[size_t(shape)];
}

// The radius (frame heights) of a detection of `shape` seen at `zoom`.
double seen_radius(const Detection& d, Shape shape, const Scene& s, double zoom) {
  return std::sqrt(d.area / (kPi * disc_share(shape))) / (zoom * s.height);
}

// The world size whose disc is nearest to a radius (frame heights).
Size nearest_size(double r) {
  Size best = Size::small;
  for (Size s : {Size::small, Size::medium, Size::large})
    if (std::abs(size_radius(s) - r) < std::abs(size_radius(best) - r)) best = s;
  return best;
}

// A detection's centre in world units under the camera of that frame (render.cpp's View).
void to_world(const Scene& s, const CameraState& cam, const Detection& d, double& x, double& y) {
  const double scale = cam.zoom * s.height;
  x = (d.cx + 0.5 - s.width / 2.0) / scale + cam.cx;
  y = (d.cy + 0.5 - s.height / 2.0) / scale + cam.cy;
}

// Planned objects (visible at the anchor) paired with detections of their colour there, nearest
// first, a matching shape preferred; -1 where an object has none.
std::vector<int> match(const Scene& s, const FrameState& st, const std::vector<Detection>& seen) {
  struct Pair { double cost; int object, detection; };
  std::vector<Pair> pairs;
  for (size_t i = 0; i < s.objects.size(); ++i) {
    const ObjectState& o = st.objects[i];
    if (!o.visible || o.radius <= 0) continue;
    for (size_t j = 0; j < seen.size(); ++j) {
      if (seen[j].color != o.color) continue;
      double x, y;
      to_world(s, st.camera, seen[j], x, y);
      pairs.push_back({std::hypot(x - o.x, y - o.y) + (seen[j].shape == s.objects[i].shape ? 0 : 10), int(i), int(j)});
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.cost < b.cost; });
  std::vector<int> of_object(s.objects.size(), -1);
  std::vector<bool> taken(seen.size(), false);
  for (const Pair& p : pairs)
    if (of_object[size_t(p.object)] < 0 && !taken[size_t(p.detection)])
      of_object[size_t(p.object)] = p.detection, taken[size_t(p.detection)] = true;
  return of_object;
}

// Moves and resizes each planned object paired with a detection so that it is where the
// detection is at the anchor: its size from the detection's disc, then its start shifted by what
// is left between where it is at the anchor and where it is seen; a few rounds, since walls and
// collisions make the place at the anchor a bent function of the start.
void pin_to_detections(Scene& s, int anchor, const std::vector<int>& pair, const std::vector<Detection>& seen) {
  for (int round = 0; round < 3; ++round) {
    const FrameState st = simulate(s)[size_t(anchor)];
    for (size_t i = 0; i < s.objects.size(); ++i) {
      if (pair[i] < 0) continue;
      const Detection& d = seen[size_t(pair[i])];
      double x, y;
      to_world(s, st.camera, d, x, y);
      if (round == 0) {
        const double seen_r = seen_radius(d, s.objects[i].shape, s, st.camera.zoom);
        s.objects[i].size = nearest_size(seen_r * size_radius(s.objects[i].size) / st.objects[i].radius);
      }
      s.objects[i].x += x - st.objects[i].x, s.objects[i].y += y - st.objects[i].y;
    }
  }
}

// What the frame shows and the words did not name: still objects, largest first, up to the
// world's limit, on top of the planned ones (they were drawn over whatever hides them). Returns
// how many were added.
int add_unnamed(Scene& s, const CameraState& cam, const std::vector<int>& pair, const std::vector<Detection>& seen) {
  std::vector<bool> used(seen.size(), false);
  for (int p : pair)
    if (p >= 0) used[size_t(p)] = true;
  std::vector<size_t> rest;
  for (size_t j = 0; j < seen.size(); ++j)
    if (!used[j]) rest.push_back(j);
  std::sort(rest.begin(), rest.end(), [&](size_t a, size_t b) { return seen[a].area > seen[b].area; });
  int top = 0, added = 0;
  for (const Object& o : s.objects) top = std::max(top, o.layer);
  for (size_t j : rest) {
    if (s.objects.size() >= kMaxObjects) break;
    const Detection& d = seen[j];
    Object o;
    o.shape = d.shape, o.color = d.color, o.angle = d.angle, o.behavior = Behavior::still, o.layer = top;
    o.size = nearest_size(seen_radius(d, d.shape, s, cam.zoom));
    to_world(s, cam, d, o.x, o.y);
    s.objects.push_back(o);
    ++added;
  }
  return added;
}

}  // namespace

AlignedPlan align_plan(const Scene& plan, const std::vector<std::pair<int, Image>>& given) {
  check(!given.empty(), "align_plan", "no frames given to align the plan with");
  std::vector<int> indices;
  for (const auto& [f, img] : given) {
    check(f >= 0 && f < plan.frames, "align_plan", "given frame ", f, " lies outside the plan's ", plan.frames, " frames");
    check(img.width == plan.width && img.height == plan.height && img.rgb.size() == size_t(img.width) * img.height * 3,
          "align_plan", "given frame ", f, " is ", img.width, "x", img.height, "; the plan is ", plan.width, "x", plan.height);
    indices.push_back(f);
  }
  AlignedPlan out;
  out.scene = plan;
  out.anchor = anchor_frame(indices);
  const Image& frame = std::find_if(given.begin(), given.end(), [&](const auto& g) { return g.first == out.anchor; })->second;
  std::vector<Detection> seen;
  for (const Detection& d : detect(frame))
    if (d.area >= min_subject_area(frame)) seen.push_back(d);
  // The camera follows the clock, not the objects: the planned scene's at the anchor holds throughout.
  const FrameState before = simulate(plan)[size_t(out.anchor)];
  const std::vector<int> pair = match(plan, before, seen);
  pin_to_detections(out.scene, out.anchor, pair, seen);
  for (int p : pair) out.matched += p >= 0;
  out.added = add_unnamed(out.scene, before.camera, pair, seen);
  return out;
}

}  // namespace kinema::world
