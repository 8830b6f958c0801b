// Perturbed specs for the judge's accuracy measurement (see judge_eval.hpp): a copy of a scene
// that differs from it in exactly one claim, chosen so the difference is visible in the clip.
#include <algorithm>
#include <array>
#include <cmath>

#include "world/detect.hpp"
#include "world/internal.hpp"
#include "world/judge_eval.hpp"
#include "world/scene_facts.hpp"
#include "world/track.hpp"

namespace kinema::world {
namespace {

std::string obj(const Scene& s, int i) {
  return std::string(color_name(s.objects[i].color)) + " " + shape_name(s.objects[i].shape);
}

// The claim kind each perturbation below falsifies, by its case number.
constexpr int kPerturbations = 22;
constexpr std::array<const char*, kPerturbations> kPerturbationKind = {
    "color",     "shape",       "size",       "motion", "motion",       "rotation",    "size_change",
    "gravity",   "appearance",  "position",   "background", "camera",   "count",       "cause_effect",
    "occlusion", "event_order", "relation",   "orbit",  "bounce",       "collision",   "cross_shot",
    "clutter"};

// The scene with large still squares added (the clutter claim judges the original scene on it):
// three times the claim's allowance (kClutterAllowance of the frame), each square counted at its smallest
// (side r x sqrt 2).
bool clutter_perturbation(const Scene& s, Scene& out) {
  const double A = double(s.width) / s.height;  // the frame's area in units of height squared
  const double each = 2 * std::pow(size_radius(Size::large), 2);
  const int add = int(std::ceil(3 * kClutterAllowance * A / each));
  if (add > 9) return false;
  int layer = 0;
  for (const Object& p : s.objects) layer = std::max(layer, p.layer);
  for (int k = 0, c = 0; k < add; ++k) {
    Object o;
    while (c < kColorCount && !color_fits_background(s, Color(c))) ++c;
    o.color = c < kColorCount ? Color(c++) : Color::white;
    o.shape = Shape::square;
    o.size = Size::large;
    o.behavior = Behavior::still;
    o.x = A * (0.2 + 0.3 * (k % 3));
    o.y = 0.2 + 0.3 * (k / 3);
    o.layer = ++layer;
    out.objects.push_back(o);
  }
  return true;
}

}  // namespace

bool is_claim_kind(const std::string& kind) {
  return std::find(kPerturbationKind.begin(), kPerturbationKind.end(), kind) != kPerturbationKind.end();
}

std::vector<std::string> claim_kinds() {
  std::vector<std::string> k(kPerturbationKind.begin(), kPerturbationKind.end());
  std::sort(k.begin(), k.end());
  k.erase(std::unique(k.begin(), k.end()), k.end());
  return k;
}

bool perturb(const Scene& s, uint64_t seed, Scene& out, std::string& kind, std::string& needle, const std::string& only) {
  Rng rng(mix_seed(seed, 0x9e7));
  const SceneFacts facts = scene_facts(s);
  const int n = int(s.objects.size());
  std::vector<int> options;  // candidate perturbations, tried in random order
  for (int k = 0; k < kPerturbations; ++k) options.push_back(k);
  for (int k = kPerturbations - 1; k > 0; --k) std::swap(options[k], options[rng.below(k + 1)]);
  for (int k : options) {
    if (!only.empty() && only != kPerturbationKind[k]) continue;
    out = s;
    const int i = n ? rng.below(n) : 0;
    Object* o = n ? &out.objects[i] : nullptr;
    const bool multi = s.frames > 1;
    const bool alone = n && facts.group_size[i] == 1 && o->effect == Effect::none;
    bool target_of_effect = false;
    for (const Object& p : s.objects) target_of_effect = target_of_effect || (p.effect != Effect::none && &p != &s.objects[i] && p.target == i);
    switch (k) {
      case 0: {  // colour
        if (!alone || target_of_effect) break;
        std::vector<Color> free;
        for (int c = 0; c < kColorCount; ++c) {
          bool used = false;
          for (const Object& p : s.objects) used = used || p.color == Color(c) || (p.effect == Effect::recolor && p.effect_color == Color(c));
          if (!used && color_fits_background(s, Color(c))) free.push_back(Color(c));
        }
        if (free.empty()) break;
        o->color = rng.pick(free);
        kind = "color"; needle = std::string("a ") + color_name(s.objects[i].color) + " object";
        return true;
      }
      case 1:  // shape
        if (!alone) break;
        do o->shape = Shape(rng.below(kShapeCount)); while (o->shape == s.objects[i].shape ||
            (s.objects[i].behavior == Behavior::rotate && symmetry_order(o->shape) == 0));
        kind = "shape"; needle = "object is a " + std::string(shape_name(s.objects[i].shape));
        if (out.objects[i].color != s.objects[i].color) break;
        needle = std::string("the ") + color_name(s.objects[i].color) + " " + needle;
        return true;
      case 2:  // size (one category)
        if (!alone || o->behavior == Behavior::grow || o->behavior == Behavior::shrink) break;
        o->size = o->size == Size::medium ? (rng.chance(0.5) ? Size::small : Size::large) : Size::medium;
        kind = "size"; needle = obj(s, i) + " is ";
        return true;
      case 3:  // direction of a mover
        if (!multi || !n || o->behavior != Behavior::move || facts.collides_with[i] >= 0 || o->effect != Effect::none) break;
        o->dir = Dir((int(o->dir) + 2 + rng.below(5)) % 8);
        kind = "motion"; needle = obj(s, i) + " moves";
        return true;
      case 4:  // a still object moves instead
        if (!multi || !alone || o->behavior != Behavior::still || facts.passes_behind.size() == 0) break;
        { bool occ = false; for (int p : facts.passes_behind) occ = occ || p == i; if (occ || target_of_effect) break; }
        o->behavior = Behavior::move; o->dir = Dir(rng.below(8)); o->speed = 0.35 / clip_seconds(s);
        kind = "motion"; needle = obj(s, i) + " stays still";
        return true;
      case 5:  // spin the other way
        if (!multi || !n || o->behavior != Behavior::rotate) break;
        o->speed = -o->speed;
        kind = "rotation"; needle = obj(s, i) + " spins";
        return true;
      case 6:  // grow <-> shrink
        if (!multi || !n || (o->behavior != Behavior::grow && o->behavior != Behavior::shrink)) break;
        o->behavior = o->behavior == Behavior::grow ? Behavior::shrink : Behavior::grow;
        kind = "size_change"; needle = obj(s, i);
        return true;
      case 7:  // a falling object stays up
        if (!multi || !n || o->behavior != Behavior::fall) break;
        o->behavior = Behavior::still;
        kind = "gravity"; needle = obj(s, i) + " falls";
        return true;
      case 8:  // appear <-> disappear
        if (!multi || !n || (o->behavior != Behavior::appear && o->behavior != Behavior::disappear)) break;
        o->behavior = o->behavior == Behavior::appear ? Behavior::disappear : Behavior::appear;
        kind = "appearance"; needle = obj(s, i);
        return true;
      case 9:  // move to the other side of the frame
        if (!alone || o->behavior == Behavior::orbit || target_of_effect) break;
        if (std::abs(o->x - aspect(s) / 2) < 0.25) break;
        o->x = aspect(s) - o->x;
        for (int p : facts.passes_behind) if (p == i) o->x = -1;
        if (o->x < 0) break;
        kind = "position"; needle = obj(s, i) + " starts";
        return true;
      case 10: {  // background
        const int nb = int(background_palette().size());
        for (int tries = 0; tries < 40; ++tries) {
          out.background = Background(rng.below(5));
          out.bg_top = rng.below(nb); out.bg_bottom = rng.below(nb);
          if (out.background == Background::night) out.bg_top = 4;
          if (out.background == Background::plain) out.bg_bottom = out.bg_top;
          // Visibly different: another named colour at the top or bottom, or another layout.
          const auto& pal = background_palette();
          auto has_bottom = [](Background b) { return b == Background::gradient || b == Background::horizon || b == Background::stripes; };
          const bool top = color_dist(pal[out.bg_top].rgb, pal[s.bg_top].rgb) >= 90;
          const bool bottom = has_bottom(out.background) && has_bottom(s.background) &&
                              color_dist(pal[out.bg_bottom].rgb, pal[s.bg_bottom].rgb) >= 90;
          auto structured = [](Background b) { return b == Background::horizon || b == Background::stripes || b == Background::night; };
          const bool layout = out.background != s.background && (structured(out.background) || structured(s.background));
          if (!top && !bottom && !layout) continue;
          bool fits = true;
          for (const Object& p : out.objects) fits = fits && color_fits_background(out, p.color);
          if (fits) { kind = "background"; needle = "background"; return true; }
        }
        break;
      }
      case 11:  // camera
        if (!multi || s.camera.cut > 0 || n == 0) break;
        if (s.camera.motion == CameraMotion::still) {
          out.camera.motion = rng.chance(0.5) ? CameraMotion::pan_left : CameraMotion::pan_right;
          out.camera.amount = 0.3;
        } else if (s.camera.motion == CameraMotion::zoom_in || s.camera.motion == CameraMotion::zoom_out) {
          out.camera.motion = s.camera.motion == CameraMotion::zoom_in ? CameraMotion::zoom_out : CameraMotion::zoom_in;
        } else {
          out.camera.motion = s.camera.motion == CameraMotion::pan_left ? CameraMotion::pan_right : CameraMotion::pan_left;
        }
        kind = "camera"; needle = "camera";
        return true;
      case 12:  // count: drop one member of a group
        if (!n || facts.group_size[i] < 2) break;
        out.objects.erase(out.objects.begin() + i);
        for (Object& p : out.objects) if (p.target > i) --p.target;
        kind = "count"; needle = obj(s, i);
        return true;
      case 13:  // cause and effect: no trace
        if (!multi || !n || o->effect == Effect::none) break;
        kind = "cause_effect"; needle = obj(s, o->target);
        o->effect = Effect::none;
        return true;
      case 14:  // occlusion: the mover passes in front instead
        if (!multi || !n || facts.passes_behind[i] < 0) break;
        o->layer = out.objects[facts.passes_behind[i]].layer + 1;
        kind = "occlusion"; needle = obj(s, i);
        return true;
      case 15:  // event order: swap the start times
        if (!multi) break;
        for (int a = 0; a < n; ++a)
          for (int b = 0; b < n; ++b)
            if (s.objects[b].start > 0 && s.objects[a].start < s.objects[b].start && s.objects[a].behavior != Behavior::still &&
                s.objects[b].behavior != Behavior::still && s.objects[b].behavior != Behavior::appear &&
                s.objects[b].behavior != Behavior::disappear && s.objects[a].behavior != Behavior::appear &&
                s.objects[a].behavior != Behavior::disappear) {
              std::swap(out.objects[a].start, out.objects[b].start);
              kind = "event_order"; needle = "then the " + obj(s, b);
              return true;
            }
        break;
      case 16:  // relation: swap the two objects' places
        if (facts.rel.empty()) break;
        {
          const Relation& r = facts.rel[rng.below(int(facts.rel.size()))];
          Object &a = out.objects[r.a], &b = out.objects[r.b];
          if (a.behavior == Behavior::orbit || b.behavior == Behavior::orbit || a.effect != Effect::none ||
              b.effect != Effect::none || facts.group_size[r.a] > 1 || facts.group_size[r.b] > 1) break;
          std::swap(a.x, b.x);
          std::swap(a.y, b.y);
          kind = "relation";
          needle = "the " + obj(s, r.a) + (r.kind == "left_of" ? " starts left of the " : " starts above the ") + obj(s, r.b);
          return true;
        }
      case 17:  // orbit the other way
        if (!multi || !n || o->behavior != Behavior::orbit) break;
        o->speed = -o->speed;
        kind = "orbit"; needle = obj(s, i);
        return true;
      case 18:  // bounce off in another direction
        if (!multi || !n || o->behavior != Behavior::bounce) break;
        o->dir = Dir((int(o->dir) + 2 + rng.below(5)) % 8);
        kind = "bounce"; needle = obj(s, i);
        return true;
      case 20:  // one continuous shot instead of a cut
        if (!multi || s.camera.cut <= 0) break;
        out.camera.cut = 0;
        kind = "cross_shot"; needle = "shot cuts";
        return true;
      case 19:  // movers on different layers pass through each other: no collision
        if (!multi || !n || facts.collides_with[i] < 0) break;
        o->layer = out.objects[facts.collides_with[i]].layer + 1;
        kind = "collision"; needle = obj(s, i);
        return true;
      case 21:  // clutter: large objects added that the scene does not have
        if (!n || !clutter_perturbation(s, out)) break;
        kind = "clutter"; needle = "nothing else is drawn";
        return true;
    }
  }
  return false;
}

}  // namespace kinema::world
