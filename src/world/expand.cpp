// expand(prompt): a small grammar over the world's vocabulary. Noun phrases (number, size,
// colour, shape) introduce objects; verbs, directions and relations attach to the latest
// subject; "then" starts the next event; "hits X (and it turns C)", "bites X", "passes
// behind X", "orbits X" link two objects. Unknown words go through the word-vector table; what
// is still not understood is reported. Unspecified values are sampled (see fill_scene.cpp).
#include "kinema/error.hpp"
#include "world/internal.hpp"
#include "world/lexicon.hpp"
#include "world/parsed_prompt.hpp"
#include "world/wordmap.hpp"

namespace kinema::world {
namespace {

struct Parser {
  ParsedPrompt p;
  int subj = -1, count = 0, size = -1, color = -1, event = 0;
  bool plural = false, definite = false;
  int pending_link = -1;   // Verb waiting for its object noun phrase (hit, bite, behind, orbit)
  int pending_rel = -1;    // relation waiting for its second noun phrase
  bool after_effect = false, after_camera = false, after_dir_for_rel = false;
  int last_dir = -1;
  int place_h = -1, place_v = -1;      // the place phrase being read ("top left", "the center")
  bool in_place = false;
  int pending_h = -1, pending_v = -1;  // a place stated before its object ("at the top, a ...")

  bool np_pending() const { return count > 0 || size >= 0 || color >= 0; }

  void set_place(PObject& o, int h, int v) const {
    if (h >= 0) o.place_h = h;
    if (v >= 0) o.place_v = v;
  }

  // One word of a place phrase: h or v a third (0, 1, 2) or -1; centre = (-2, -2), which fills
  // whichever axes the phrase has not named ("top middle" is the top's middle).
  void place(int h, int v) {
    if (!in_place) place_h = place_v = -1, in_place = true;
    if (h == -2) {
      if (place_h < 0 && place_v < 0) place_h = place_v = 1;
      else if (place_h < 0) place_h = 1;
      else if (place_v < 0) place_v = 1;
    } else {
      if (h >= 0) place_h = h;
      if (v >= 0) place_v = v;
    }
    if (subj >= 0 && !np_pending()) set_place(p.objects[subj], place_h, place_v);
    else pending_h = place_h, pending_v = place_v;
  }

  // "left" in "on the left", "left side", "top left" is a place; in "moves to the left" a direction.
  bool dir_is_place(const Token& t, const std::vector<std::string>& words, size_t i) const {
    const std::string next = i + 1 < words.size() ? words[i + 1] : "";
    if (next == "of") return false;  // "left of the blue square": a relation
    for (const char* w : {"side", "corner", "corners", "half", "part", "edge", "area", "region"})
      if (next == w) return true;
    if (in_place) return true;
    if ((t.word == "upper" || t.word == "lower") && (next == "left" || next == "right")) return true;
    return i >= 2 && words[i - 1] == "the" && (words[i - 2] == "on" || words[i - 2] == "at" || words[i - 2] == "in");
  }

  void noun(int shape, bool is_plural) {
    // "the red circle" names an object already introduced, if there is one.
    int id = -1;
    if (definite)
      for (int k = 0; k < int(p.objects.size()) && id < 0; ++k) {
        const PObject& e = p.objects[k];
        if (e.shape == shape && (color < 0 || e.color == color) && (size < 0 || e.size == size)) id = k;
      }
    definite = false;
    if (id < 0) {
      PObject o;
      o.shape = shape;
      o.color = color;
      o.size = size;
      o.count = count > 0 ? count : (is_plural ? 2 : 1);
      o.event = event;
      set_place(o, pending_h, pending_v);
      pending_h = pending_v = -1;
      id = int(p.objects.size());
      p.objects.push_back(o);
    }
    if (pending_link >= 0 && subj >= 0) {
      p.objects[subj].link = Verb(pending_link);
      p.objects[subj].target = id;
      pending_link = -1;
    } else if (pending_rel >= 0 && subj >= 0) {
      p.relations.push_back({subj, id, pending_rel});
      pending_rel = -1;
    } else {
      subj = id;
    }
    count = 0; size = -1; color = -1; plural = false;
  }

  void verb(Verb v, const std::string& word) {
    if (subj < 0) { p.not_understood.push_back(word + " (no object before it)"); return; }
    PObject& o = p.objects[subj];
    const bool has = o.verb >= 0 && o.verb != int(Verb::still);
    const bool simple = v != Verb::hit && v != Verb::bite && v != Verb::behind && v != Verb::orbit && v != Verb::collide &&
                        v != Verb::still && !(v == Verb::bounce && o.verb == int(Verb::fall));
    if (has && simple && o.verb != int(v)) {
      // One behaviour per object: the first one stated is kept and the rest reported.
      p.not_understood.push_back(word + " (an object does one thing here; kept the first)");
      return;
    }
    if (o.event < event) o.event = event;  // "..., then the red circle moves": it moves later
    switch (v) {
      case Verb::hit: case Verb::bite: case Verb::behind: case Verb::orbit:
        pending_link = int(v);
        if (o.verb < 0 || o.verb == int(Verb::still)) o.verb = v == Verb::orbit ? int(Verb::orbit) : int(Verb::move);
        if (v == Verb::bite) o.effect = int(Effect::bite);
        if (v == Verb::hit && o.effect < 0) o.effect = int(Effect::none);
        return;
      case Verb::bounce:
        if (o.verb == int(Verb::fall)) return;  // "falls and bounces": falling includes bounces
        o.verb = int(v);
        return;
      case Verb::collide: o.collide = true; return;
      default: o.verb = int(v); return;
    }
  }

  void direction(Dir d) {
    if (after_camera) {
      p.camera = d == Dir::left ? int(CameraMotion::pan_left) : d == Dir::right ? int(CameraMotion::pan_right) : p.camera;
      return;
    }
    if (subj < 0) return;
    PObject& o = p.objects[subj];
    // Combine "up" + "left" into a diagonal.
    if (o.dir >= 0 && last_dir >= 0) {
      const int a = o.dir, b = int(d);
      auto is = [&](Dir x, Dir y) { return (a == int(x) && b == int(y)) || (a == int(y) && b == int(x)); };
      if (is(Dir::up, Dir::left)) o.dir = int(Dir::up_left);
      else if (is(Dir::up, Dir::right)) o.dir = int(Dir::up_right);
      else if (is(Dir::down, Dir::left)) o.dir = int(Dir::down_left);
      else if (is(Dir::down, Dir::right)) o.dir = int(Dir::down_right);
      else o.dir = b;
    } else {
      o.dir = int(d);
    }
    if (o.verb < 0) o.verb = int(Verb::move);
  }

  void token(const Token& t, const std::vector<std::string>& words, size_t i) {
    const std::string next = i + 1 < words.size() ? words[i + 1] : "";
    if (t.kind != Tok::dir && t.kind != Tok::filler) last_dir = -1;
    const bool place_word = t.kind == Tok::place || (t.kind == Tok::dir && dir_is_place(t, words, i));
    if (!place_word && t.kind != Tok::filler && t.kind != Tok::of) in_place = false;
    if (place_word) {
      const int h = t.kind == Tok::place ? (t.value == kPlaceCenter ? -2 : -1)
                    : t.value == int(Dir::left) ? 0 : t.value == int(Dir::right) ? 2 : -1;
      const int v = t.kind == Tok::place ? (t.value == kPlaceCenter ? -2 : t.value == kPlaceTop ? 0 : 2)
                    : t.value == int(Dir::up) ? 0 : t.value == int(Dir::down) ? 2 : -1;
      place(h, v);
      return;
    }
    switch (t.kind) {
      case Tok::filler:
        if (t.word == "the") definite = true;
        if (t.word == "a" || t.word == "an") definite = false;
        return;
      case Tok::number: count = t.value; return;
      case Tok::size: size = t.value; return;
      case Tok::color:
        if (after_effect && subj >= 0) {
          PObject& o = p.objects[subj];
          o.effect = int(Effect::recolor);
          o.effect_color = t.value;
          after_effect = false;
          return;
        }
        if (next == "background") { p.bg_color = t.value; return; }
        color = t.value;
        return;
      case Tok::shape: noun(t.value, t.plural); return;
      case Tok::verb:
        if ((t.word == "circles" || t.word == "circling") && np_pending()) { noun(int(Shape::circle), true); return; }
        if (t.word == "behind" && subj >= 0 && p.objects[subj].link == Verb::behind) return;
        verb(Verb(t.value), t.word);
        return;
      case Tok::dir:
        if (next == "of") { pending_rel = t.value == int(Dir::left) ? 3 : t.value == int(Dir::right) ? 4 : t.value == int(Dir::up) ? 0 : 1; return; }
        direction(Dir(t.value));
        last_dir = t.value;
        return;
      case Tok::spin:
        if (subj >= 0) { p.objects[subj].spin = t.value; if (p.objects[subj].verb < 0) p.objects[subj].verb = int(Verb::rotate); }
        return;
      case Tok::relation: pending_rel = t.value; return;
      case Tok::background: p.background = t.value; return;
      case Tok::camera: after_camera = true; if (p.camera < 0) p.camera = int(CameraMotion::still); return;
      case Tok::zoom:
        p.camera = next == "out" ? int(CameraMotion::zoom_out) : int(CameraMotion::zoom_in);
        return;
      case Tok::then: ++event; after_camera = false; return;
      case Tok::effect_to: after_effect = true; return;
      case Tok::times: if (subj >= 0) p.objects[subj].times = t.value; return;
      case Tok::of: return;
      case Tok::place: return;  // read above
    }
  }
};

}  // namespace

ParsedPrompt parse_prompt(const std::string& prompt) {
  Parser ps;
  std::vector<std::string> words = words_of(prompt);
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "," || w == "." || w == ";") { ps.after_camera = ps.after_effect = ps.in_place = false; continue; }
    if (w == "cut" || w == "cuts") { ps.p.cut = true; continue; }
    if ((w == "in" || w == "out") && i > 0 && lex(words[i - 1]) && lex(words[i - 1])->kind == Tok::zoom) continue;
    std::optional<Token> t = lex(w);
    if (!t && w.size() > 3 && w.back() == 's') t = lex(w.substr(0, w.size() - 1));  // simple plural/3rd person
    if (!t) {
      if (const auto n = nearest_word(w)) {
        t = lex(n->word);
        if (t) ps.p.mapped.push_back(w + " \u2192 " + n->word);
      }
    }
    if (!t) {
      const bool numeric = !w.empty() && std::isdigit(static_cast<unsigned char>(w[0]));
      ps.p.not_understood.push_back(numeric ? w + " (only counts from 1 to 6)" : w);
      continue;
    }
    ps.token(*t, words, i);
  }
  ps.p.events = ps.event + 1;
  return ps.p;
}

Expansion expand(const std::string& prompt, uint64_t seed, const SampleOptions& opt) {
  const ParsedPrompt p = parse_prompt(prompt);
  Expansion e;
  e.mapped = p.mapped;
  e.not_understood = p.not_understood;
  int total = 0;
  for (const PObject& o : p.objects) total += o.count;
  e.understood = total > 0;
  if (!e.understood) {
    e.scene = Scene{};
    e.scene.width = opt.width; e.scene.height = opt.height; e.scene.fps = opt.fps; e.scene.frames = opt.frames;
    return e;
  }
  check(total <= 12, "world.expand", "too many objects in the prompt; got ", total, ", expected at most 12");
  e.scene = fill_scene(p, seed, opt);
  // Claims about values the prompt did not state are not the prompt's claims.
  bool placed = true;
  for (const PObject& o : p.objects) placed = placed && o.place_h >= 0 && o.place_v >= 0;
  if (!placed) e.unspecified.push_back("position");
  bool sizes = true;
  for (const PObject& o : p.objects) sizes = sizes && o.size >= 0;
  if (!sizes) e.unspecified.push_back("size");
  if (p.background < 0 && p.bg_color < 0) e.unspecified.push_back("background");
  if (p.camera < 0 && !p.cut) e.unspecified.push_back("camera");
  if (p.relations.empty()) e.unspecified.push_back("relation");
  e.caption = detailed_caption(e.scene, seed);
  return e;
}

}  // namespace kinema::world
