// Captions from a Scene: a long descriptive caption (every object, colour, size, position,
// motion, relation, background, camera and event order, with seeded variation in phrasing)
// and a short user-style prompt that expand() can parse back.
#include <algorithm>
#include <map>

#include "world/internal.hpp"
#include "world/scene_facts.hpp"

namespace kinema::world {
namespace {

const std::vector<std::vector<std::string>> kShapeWords = {
    {"circle", "disc", "ball"}, {"square", "block", "box"}, {"triangle"}, {"star", "five-pointed star"},
    {"ring", "hoop"}, {"heart"}, {"cross", "plus sign"}, {"hexagon", "six-sided shape"}};
const std::vector<std::vector<std::string>> kSizeWords = {{"small", "little", "tiny"},
                                                          {"medium-sized", "mid-sized"}, {"large", "big"}};
const std::vector<std::string> kNumbers = {"zero", "one", "two", "three", "four", "five", "six"};

std::string plural(const std::string& noun) {
  if (noun == "box") return "boxes";
  if (noun == "cross") return "crosses";
  if (noun == "plus sign") return "plus signs";
  if (noun == "six-sided shape") return "six-sided shapes";
  return noun + "s";
}

// "spins clockwise" -> "spin clockwise": the first word of an action, for a group subject.
std::string plural_verb(const std::string& act) {
  const size_t sp = act.find(' ');
  std::string verb = act.substr(0, sp), rest = sp == std::string::npos ? "" : act.substr(sp);
  if (verb == "does") verb = "do";
  else if (verb.size() > 4 && verb.compare(verb.size() - 3, 3, "hes") == 0) verb.resize(verb.size() - 2);
  else if (verb.size() > 2 && verb.back() == 's' && verb[verb.size() - 2] != 's') verb.pop_back();
  return verb + rest;
}

std::string cap(std::string s) {
  if (!s.empty()) s[0] = char(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

struct Writer {
  const Scene& s;
  const SceneFacts& facts;
  Rng rng;

  std::string color(Color c) {
    if (c == Color::gray && rng.chance(0.3)) return "grey";
    if (c == Color::purple && rng.chance(0.2)) return "violet";
    return color_name(c);
  }
  std::string noun(Shape sh) { return rng.pick(kShapeWords[int(sh)]); }
  std::string size(Size z) { return rng.pick(kSizeWords[int(z)]); }
  // "the red star" (short reference once introduced).
  std::string ref(int i) { return "the " + std::string(color_name(s.objects[i].color)) + " " + shape_name(s.objects[i].shape); }
  std::string where(int i) { return rng.pick<std::string>({"in the ", "at the ", "near the "}) + facts.place[i] + " of the frame"; }
  std::string dir(Dir d) {
    static const char* const kDir[] = {"to the right", "upward", "upward", "up and to the left", "to the left",
                                       "down and to the left", "downward", "down and to the right"};
    if (d == Dir::up_right) return "up and to the right";
    return kDir[int(d)];
  }

  std::string action(int i) {
    const Object& o = s.objects[i];
    switch (o.behavior) {
      case Behavior::still: return rng.pick<std::string>({"stays perfectly still", "rests in place", "does not move"});
      case Behavior::move: {
        std::string a = rng.pick<std::string>({"moves ", "glides ", "slides ", "travels "}) + dir(o.dir);
        if (facts.collides_with[i] >= 0)
          a += ", collides with " + ref(facts.collides_with[i]) + " and bounces back";
        if (o.effect == Effect::recolor)
          a += " and hits " + ref(o.target) + ", which turns " + color_name(o.effect_color) + " and stays " +
               color_name(o.effect_color);
        if (o.effect == Effect::bite)
          a += " and takes a bite out of " + ref(o.target) + ", leaving a bite mark that stays";
        if (facts.passes_behind[i] >= 0)
          a += ", passes behind " + ref(facts.passes_behind[i]) + " and comes out the other side unchanged";
        return a;
      }
      case Behavior::bounce:
        return rng.pick<std::string>({"bounces around the frame off the edges, setting off ",
                                      "ricochets off the walls, starting out "}) + dir(o.dir);
      case Behavior::fall: {
        std::string a = rng.pick<std::string>({"falls under gravity", "drops down", "falls to the ground"});
        const int b = facts.bounces[i];
        if (b > 0) a += " and bounces " + std::string(b == 1 ? "once" : b == 2 ? "twice" : "several times") +
                        ", each bounce lower than the last";
        return a;
      }
      case Behavior::rotate:
        return rng.pick<std::string>({"spins ", "rotates "}) + (o.speed > 0 ? "clockwise" : "counterclockwise");
      case Behavior::grow: return rng.pick<std::string>({"grows larger", "slowly grows bigger", "swells in size"});
      case Behavior::shrink: return rng.pick<std::string>({"shrinks", "gets smaller", "slowly shrinks"});
      case Behavior::orbit:
        return rng.pick<std::string>({"orbits ", "circles around "}) + ref(o.target) + " " +
               (o.speed > 0 ? "clockwise" : "counterclockwise");
      case Behavior::appear: return rng.pick<std::string>({"appears out of nowhere", "pops into view"});
      case Behavior::disappear: return rng.pick<std::string>({"disappears", "vanishes"});
    }
    return "";
  }

  std::string background() {
    const auto& pal = background_palette();
    const std::string top = pal[s.bg_top].name, bottom = pal[s.bg_bottom].name;
    switch (s.background) {
      case Background::plain: return rng.pick<std::string>({"a plain ", "a flat ", "a solid "}) + top + " background";
      case Background::gradient:
        return "a smooth gradient background that fades from " + top + " at the top to " + bottom + " at the bottom";
      case Background::horizon: return "a " + top + " sky above " + bottom + " ground, split by a straight horizon";
      case Background::night: return "a dark night sky scattered with tiny stars";
      case Background::stripes: return "a background of horizontal " + top + " and " + bottom + " stripes";
    }
    return "";
  }

  std::string camera() {
    const Camera& c = s.camera;
    std::string a;
    switch (c.motion) {
      case CameraMotion::still: a = rng.pick<std::string>({"The camera is static.", "The camera does not move."}); break;
      case CameraMotion::pan_left: a = "The camera pans slowly to the left."; break;
      case CameraMotion::pan_right: a = "The camera pans slowly to the right."; break;
      case CameraMotion::zoom_in: a = "The camera slowly zooms in."; break;
      case CameraMotion::zoom_out: a = "The camera slowly zooms out."; break;
    }
    if (c.cut > 0) a += " Partway through, the shot cuts to a closer view of the same objects, which keep their colours and shapes.";
    return a;
  }
};

}  // namespace

const std::vector<std::vector<std::string>>& shape_words() { return kShapeWords; }
const std::vector<std::vector<std::string>>& size_words() { return kSizeWords; }
const std::vector<std::string>& number_words() { return kNumbers; }

std::string detailed_caption(const Scene& s, uint64_t seed) {
  const SceneFacts facts = scene_facts(s);
  Writer w{s, facts, Rng(mix_seed(seed, 0xca9))};
  const bool image = s.frames == 1;
  std::string out = image ? w.rng.pick<std::string>({"A still image of ", "A picture showing "})
                          : w.rng.pick<std::string>({"A short video of ", "A clip showing ", "An animation of "});
  out += w.background() + ". ";
  // Groups of identical objects are introduced together ("three small red crosses").
  std::vector<bool> done(s.objects.size(), false);
  for (size_t i = 0; i < s.objects.size(); ++i) {
    if (done[i]) continue;
    const int g = facts.group_size[i];
    const Object& o = s.objects[i];
    std::string np = w.size(o.size) + " " + w.color(o.color) + " " + (g > 1 ? plural(w.noun(o.shape)) : w.noun(o.shape));
    std::string sent;
    if (g > 1) {
      sent = cap(kNumbers[std::min(g, 6)]) + " " + np + " " + w.rng.pick<std::string>({"are scattered across the frame", "appear in the frame"});
      for (size_t j = i; j < s.objects.size(); ++j) if (facts.group_of[j] == facts.group_of[i]) done[j] = true;
    } else {
      sent = cap(w.rng.pick<std::string>({"we see a ", "there is a "})) + np + " " + w.where(int(i));
      done[i] = true;
    }
    if (!image) {
      std::string when;
      if (o.start > 0 && o.behavior != Behavior::appear && o.behavior != Behavior::disappear)
        when = w.rng.pick<std::string>({"; then, after ", "; later, after "}) + facts.after_phrase[i] + ", it ";
      else if (o.start > 0)
        when = "; after a moment it ";
      else
        when = w.rng.pick<std::string>({"; it ", ", and it ", " that "});
      if (g > 1) when = w.rng.pick<std::string>({"; they ", ", and they "});
      std::string act = w.action(int(i));
      if (g > 1 && o.behavior == Behavior::still) act = "stay still";
      else if (g > 1) act = "all " + plural_verb(act);
      sent += when + act;
    }
    out += sent + ". ";
  }
  for (const std::string& rel : facts.relations) out += cap(rel) + ". ";
  if (!image) out += w.camera();
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string short_prompt(const Scene& s, uint64_t seed) {
  const SceneFacts facts = scene_facts(s);
  Rng rng(mix_seed(seed, 0x5407));
  std::string out;
  std::vector<bool> done(s.objects.size(), false);
  int clauses = 0;
  for (size_t i = 0; i < s.objects.size(); ++i) {
    if (done[i]) continue;
    const Object& o = s.objects[i];
    const int g = facts.group_size[i];
    for (size_t j = i; j < s.objects.size(); ++j) if (facts.group_of[j] == facts.group_of[i]) done[j] = true;
    std::string words = (rng.chance(0.3) ? std::string(size_name(o.size)) + " " : "") + color_name(o.color) + " " +
                        (g > 1 ? plural(shape_name(o.shape)) : shape_name(o.shape));
    const bool vowel = std::string("aeiou").find(words[0]) != std::string::npos;
    std::string np = (g > 1 ? std::string(rng.chance(0.5) ? kNumbers[g] : std::to_string(g).c_str()) : vowel ? "an" : "a") +
                     std::string(" ") + words;
    std::string verb;
    if (s.frames > 1) {
      switch (o.behavior) {
        case Behavior::move:
          verb = std::string(" moves ") + (o.dir == Dir::right ? "right" : o.dir == Dir::left ? "left" : o.dir == Dir::up ? "up"
                 : o.dir == Dir::down ? "down" : o.dir == Dir::up_left ? "up left" : o.dir == Dir::up_right ? "up right"
                 : o.dir == Dir::down_left ? "down left" : "down right");
          if (o.effect == Effect::recolor) verb += " and hits the " + std::string(color_name(s.objects[o.target].color)) + " " +
                                                   shape_name(s.objects[o.target].shape) + " which turns " + color_name(o.effect_color);
          if (o.effect == Effect::bite) verb += " and bites the " + std::string(color_name(s.objects[o.target].color)) + " " +
                                                shape_name(s.objects[o.target].shape);
          if (facts.passes_behind[i] >= 0) verb += " behind the " + std::string(color_name(s.objects[facts.passes_behind[i]].color)) + " " +
                                                   shape_name(s.objects[facts.passes_behind[i]].shape);
          break;
        case Behavior::bounce: verb = " bounces around"; break;
        case Behavior::fall: verb = facts.bounces[i] == 2 ? " falls and bounces twice" : " falls and bounces"; break;
        case Behavior::rotate: verb = o.speed > 0 ? " spins clockwise" : " spins counterclockwise"; break;
        case Behavior::grow: verb = " grows"; break;
        case Behavior::shrink: verb = " shrinks"; break;
        case Behavior::orbit: verb = " orbits the " + std::string(color_name(s.objects[o.target].color)) + " " + shape_name(s.objects[o.target].shape); break;
        case Behavior::appear: verb = " appears"; break;
        case Behavior::disappear: verb = " disappears"; break;
        case Behavior::still: break;
      }
      if (g > 1 && !verb.empty()) verb = "";  // keep group prompts simple: counts, not verbs
    }
    if (clauses > 0) out += (o.start > 0 && !verb.empty()) ? ", then " : " and ";
    out += np + verb;
    ++clauses;
  }
  if (rng.chance(0.5)) {
    static const char* const kBg[] = {"", " on a gradient background", " with a horizon", " at night", " on a striped background"};
    if (s.background != Background::plain) out += kBg[int(s.background)];
  }
  return out;
}

}  // namespace kinema::world
