// The grammar's lexicon (see lexicon.hpp). Synonyms are listed by hand here; words outside
// this list go through the word-vector table (wordmap.hpp).
#include "world/lexicon.hpp"

#include <map>

#include "kinema/world.hpp"

namespace kinema::world {
namespace {

const std::map<std::string, Token>& table() {
  static const std::map<std::string, Token> t = [] {
    std::map<std::string, Token> m;
    auto add = [&](Tok k, int v, std::initializer_list<const char*> words, bool plural = false) {
      for (const char* w : words) m[w] = Token{k, v, plural, w};
    };
    add(Tok::filler, 0, {"a", "an", "the", "on", "in", "with", "at", "is", "are", "it", "its", "to", "and", "into",
                         "from", "over", "across", "toward", "towards", "side", "by", "some", "that", "which",
                         "while", "there", "frame", "screen", "scene", "video", "clip", "shows", "showing", "slowly",
                         "quickly", "fast", "gently", "around", "each", "other", "first", "as", "background", "be",
                         "being", "one's", "of", "this", "then,", "away", "along", "out", "off", "walls", "edges",
                         "ground", "floor", "sits", "sitting", "place", "motion", "shape", "shapes", "object",
                         "objects", "colored", "coloured", "again", "onto", "both", "all", "they", "them", "their",
                         "very", "big.", "image", "picture", "photo", "scene.", "also", "just", "same"});
    add(Tok::number, 1, {"one", "single", "1"});
    add(Tok::number, 2, {"two", "2", "pair", "couple"});
    add(Tok::number, 3, {"three", "3"});
    add(Tok::number, 4, {"four", "4"});
    add(Tok::number, 5, {"five", "5"});
    add(Tok::number, 6, {"six", "6"});
    const std::initializer_list<const char*> colors[kColorCount] = {
        {"red", "crimson", "scarlet", "ruby", "cherry"},
        {"orange", "tangerine", "amber"},
        {"yellow", "golden", "gold", "lemon"},
        {"green", "emerald", "lime", "olive"},
        {"blue", "azure", "navy", "cobalt", "sapphire"},
        {"purple", "violet", "magenta", "lilac", "indigo"},
        {"pink", "rose", "rosy", "salmon"},
        {"brown", "chocolate", "tan", "bronze"},
        {"white", "ivory", "snowy"},
        {"black", "ebony", "charcoal", "dark"},
        {"gray", "grey", "silver"},
        {"cyan", "turquoise", "teal", "aqua", "aquamarine"}};
    for (int c = 0; c < kColorCount; ++c) add(Tok::color, c, colors[c]);
    const std::initializer_list<const char*> shapes[kShapeCount] = {
        {"circle", "disc", "disk", "ball", "dot", "orb", "sphere", "bubble"},
        {"square", "box", "block", "cube", "rectangle", "tile"},
        {"triangle", "pyramid", "wedge"},
        {"star"},
        {"ring", "hoop", "donut", "doughnut", "loop"},
        {"heart"},
        {"cross", "plus"},
        {"hexagon"}};
    const std::initializer_list<const char*> plurals[kShapeCount] = {
        {"circles", "discs", "disks", "balls", "dots", "orbs", "spheres", "bubbles"},
        {"squares", "boxes", "blocks", "cubes", "rectangles", "tiles"},
        {"triangles", "pyramids", "wedges"},
        {"stars"},
        {"rings", "hoops", "donuts", "doughnuts", "loops"},
        {"hearts"},
        {"crosses", "pluses"},
        {"hexagons"}};
    for (int s = 0; s < kShapeCount; ++s) add(Tok::shape, s, shapes[s]), add(Tok::shape, s, plurals[s], true);
    add(Tok::size, int(Size::small), {"small", "little", "tiny", "mini", "smaller"});
    add(Tok::size, int(Size::medium), {"medium", "medium-sized", "mid-sized", "average"});
    add(Tok::size, int(Size::large), {"large", "big", "huge", "giant", "gigantic", "enormous", "larger", "bigger"});
    add(Tok::verb, int(Verb::move), {"move", "moves", "moving", "goes", "go", "going", "slides", "slide", "sliding",
                                     "glides", "glide", "gliding", "travels", "travel", "rolls", "roll", "rolling",
                                     "drifts", "drift", "drifting", "flies", "fly", "flying", "heads", "runs", "races",
                                     "moved", "rolled", "slid"});
    add(Tok::verb, int(Verb::bounce), {"bounce", "bounces", "bouncing", "bouncy", "ricochets", "bounced"});
    add(Tok::verb, int(Verb::fall), {"fall", "falls", "falling", "drops", "drop", "dropping", "tumbles", "plummets",
                                     "fell", "dropped", "sinks"});
    add(Tok::verb, int(Verb::rotate), {"spin", "spins", "spinning", "rotate", "rotates", "rotating", "twirls", "twirling",
                                       "turning", "spun", "rotated", "whirls"});
    add(Tok::verb, int(Verb::grow), {"grow", "grows", "growing", "expands", "expanding", "swells", "inflates", "grew"});
    add(Tok::verb, int(Verb::shrink), {"shrink", "shrinks", "shrinking", "contracts", "deflates", "shrank"});
    add(Tok::verb, int(Verb::orbit), {"orbit", "orbits", "orbiting", "circles", "circling", "revolves", "revolving"});
    add(Tok::verb, int(Verb::appear), {"appear", "appears", "appearing", "pops", "emerges", "materializes", "appeared"});
    add(Tok::verb, int(Verb::disappear), {"disappear", "disappears", "disappearing", "vanish", "vanishes", "vanishing",
                                          "fades", "disappeared", "vanished"});
    add(Tok::verb, int(Verb::still), {"still", "stays", "stay", "rests", "resting", "motionless", "stationary", "sits",
                                      "static", "idle"});
    add(Tok::verb, int(Verb::hit), {"hit", "hits", "hitting", "strikes", "strike", "bumps", "crashes", "knocks",
                                    "smashes", "touches"});
    add(Tok::verb, int(Verb::bite), {"bite", "bites", "biting", "eats", "chomps", "nibbles", "bitten"});
    add(Tok::verb, int(Verb::behind), {"behind", "passes", "passing"});
    add(Tok::verb, int(Verb::collide), {"collide", "collides", "colliding", "collision"});
    add(Tok::dir, int(Dir::right), {"right", "rightward", "rightwards", "east"});
    add(Tok::dir, int(Dir::left), {"left", "leftward", "leftwards", "west"});
    add(Tok::dir, int(Dir::up), {"up", "upward", "upwards", "upper", "rises", "rising", "north"});
    add(Tok::dir, int(Dir::down), {"down", "downward", "downwards", "lower", "south"});
    add(Tok::spin, 1, {"clockwise"});
    add(Tok::spin, -1, {"counterclockwise", "anticlockwise", "counter-clockwise", "anti-clockwise"});
    add(Tok::relation, 0, {"above", "over", "atop"});
    add(Tok::relation, 1, {"below", "under", "beneath", "underneath"});
    add(Tok::relation, 2, {"beside", "next"});
    add(Tok::background, kBgGrass, {"grass", "field", "meadow", "lawn", "grassy"});
    add(Tok::background, kBgSky, {"sky", "horizon", "daytime", "day"});
    add(Tok::background, kBgNight, {"night", "starry", "nighttime", "dark-sky", "midnight"});
    add(Tok::background, kBgSand, {"sand", "desert", "beach", "sandy", "dunes"});
    add(Tok::background, kBgGradient, {"gradient", "fading"});
    add(Tok::background, kBgStripes, {"stripes", "striped", "stripy", "bands"});
    add(Tok::background, kBgOcean, {"ocean", "sea", "water"});
    add(Tok::camera, int(CameraMotion::pan_left), {"camera", "pans", "pan", "panning", "tracks"});
    add(Tok::zoom, 1, {"zoom", "zooms", "zooming", "zoomed"});
    add(Tok::then, 0, {"then", "after", "afterwards", "later", "next", "finally", "before", "subsequently"});
    add(Tok::effect_to, 0, {"turns", "becomes", "changes", "turning", "turned", "making", "makes"});
    add(Tok::place, kPlaceCenter, {"center", "centre", "middle", "central", "centered", "centred"});
    add(Tok::place, kPlaceTop, {"top", "topmost"});
    add(Tok::place, kPlaceBottom, {"bottom", "bottommost"});
    add(Tok::filler, 0, {"corner", "corners", "half", "part", "edge", "area", "region"});
    add(Tok::times, 1, {"once"});
    add(Tok::times, 2, {"twice", "times"});
    // "in"/"out" are fillers unless they follow "zoom": the parser looks at the raw words.
    m["up"].kind = Tok::dir;
    m["of"] = Token{Tok::of, 0, false, "of"};
    m["next"] = Token{Tok::relation, 2, false, "next"};
    return m;
  }();
  return t;
}

}  // namespace

std::optional<Token> lex(const std::string& word) {
  const auto& t = table();
  const auto it = t.find(word);
  if (it == t.end()) return std::nullopt;
  return it->second;
}

int lexicon_size() { return int(table().size()); }

}  // namespace kinema::world
