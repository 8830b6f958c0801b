// Derived scene facts (see scene_facts.hpp).
#include "world/scene_facts.hpp"

#include "world/internal.hpp"

namespace kinema::world {
namespace {

std::string place_name(double fx, double fy) {
  const char* h = fx < 1 / 3.0 ? "left" : fx > 2 / 3.0 ? "right" : "";
  const char* v = fy < 1 / 3.0 ? "top" : fy > 2 / 3.0 ? "bottom" : "";
  if (!*h && !*v) return "center";
  if (!*v) return std::string(h) + " side";
  if (!*h) return std::string(v) + " middle";
  return std::string(v) + " " + h;
}

std::string ref(const Scene& s, int i) {
  return std::string("the ") + color_name(s.objects[i].color) + " " + shape_name(s.objects[i].shape);
}

}  // namespace

SceneFacts scene_facts(const Scene& s) {
  SceneFacts f;
  f.states = simulate(s);
  const int n = int(s.objects.size()), F = s.frames;
  f.place.assign(n, "center");
  f.bounces.assign(n, 0);
  f.collides_with.assign(n, -1);
  f.passes_behind.assign(n, -1);
  f.group_of.assign(n, -1);
  f.group_size.assign(n, 1);
  f.after_phrase.assign(n, "");
  for (int i = 0; i < n; ++i) {
    for (int t = 0; t < F; ++t) {
      const ObjectState& o = f.states[t].objects[i];
      if (!o.visible) continue;
      double px, py;
      to_screen(s, f.states[t].camera, o.x, o.y, px, py);
      f.place[i] = place_name(px / s.width, py / s.height);
      break;
    }
    const Object& oi = s.objects[i];
    if (oi.behavior == Behavior::fall)
      for (int t = 1; t + 1 < F; ++t) {
        const double y0 = f.states[t - 1].objects[i].y, y1 = f.states[t].objects[i].y, y2 = f.states[t + 1].objects[i].y;
        if (y1 > y0 && y1 >= y2 && y1 - std::min(y0, y2) > 0.004) ++f.bounces[i];
      }
    for (int j = 0; j < n; ++j) {
      if (j == i) continue;
      const Object& oj = s.objects[j];
      bool overlapped = false, before = false, after = false;
      for (int t = 0; t < F; ++t) {
        const ObjectState &a = f.states[t].objects[i], &b = f.states[t].objects[j];
        const double d = std::hypot(a.x - b.x, a.y - b.y);
        if (d < a.radius + b.radius + 0.02) overlapped = true;
        else if (!overlapped) before = true;
        else after = true;
        (void)before;
      }
      if (oi.behavior == Behavior::move && oj.behavior == Behavior::move && oi.layer == oj.layer && overlapped)
        f.collides_with[i] = j;
      if (oi.behavior == Behavior::move && oj.behavior == Behavior::still && oj.layer > oi.layer && overlapped && after &&
          size_radius(oj.size) > size_radius(oi.size))
        f.passes_behind[i] = j;
    }
    if (f.group_of[i] < 0) {
      f.group_of[i] = i;
      for (int j = i + 1; j < n; ++j) {
        const Object& oj = s.objects[j];
        if (f.group_of[j] < 0 && oj.color == oi.color && oj.shape == oi.shape && oj.size == oi.size &&
            oj.behavior == oi.behavior && oj.dir == oi.dir && oj.start == oi.start && oi.effect == Effect::none &&
            oj.effect == Effect::none && oi.behavior != Behavior::orbit)
          f.group_of[j] = i;
      }
    }
    if (oi.start > 0) {
      int first = -1;
      for (int j = 0; j < n; ++j)
        if (s.objects[j].start < oi.start && s.objects[j].behavior != Behavior::still) first = j;
      f.after_phrase[i] = first >= 0 ? ref(s, first) + " has started moving" : "a moment";
    }
  }
  for (int i = 0; i < n; ++i) {
    int g = 0;
    for (int j = 0; j < n; ++j) g += f.group_of[j] == f.group_of[i];
    f.group_size[i] = g;
  }
  // Relations between the first visible positions of distinct, ungrouped objects (at most 3).
  for (int i = 0; i < n && f.rel.size() < 3; ++i)
    for (int j = i + 1; j < n && f.rel.size() < 3; ++j) {
      if (f.group_of[i] != i || f.group_of[j] != j || !f.states[0].objects[i].visible || !f.states[0].objects[j].visible) continue;
      const ObjectState &a = f.states[0].objects[i], &b = f.states[0].objects[j];
      const double dx = b.x - a.x, dy = b.y - a.y;
      if (std::abs(dx) > std::abs(dy) && std::abs(dx) > a.radius + b.radius) {
        f.rel.push_back(dx > 0 ? Relation{i, j, "left_of"} : Relation{j, i, "left_of"});
        f.relations.push_back(ref(s, f.rel.back().a) + " starts to the left of " + ref(s, f.rel.back().b));
      } else if (std::abs(dy) > a.radius + b.radius) {
        f.rel.push_back(dy > 0 ? Relation{i, j, "above"} : Relation{j, i, "above"});
        f.relations.push_back(ref(s, f.rel.back().a) + " starts above " + ref(s, f.rel.back().b));
      }
    }
  return f;
}

}  // namespace kinema::world
