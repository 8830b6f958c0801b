// What the prompt grammar understood: a partial scene. Fields left at -1 are unspecified and
// get sampled by fill_scene().
#pragma once
#include <string>
#include <vector>

#include "kinema/world.hpp"
#include "world/lexicon.hpp"

namespace kinema::world {

struct PObject {
  int shape = -1, color = -1, size = -1, count = 1;
  int verb = -1, dir = -1, spin = 0, event = 0, times = 0;
  Verb link = Verb::still;  // hit, bite, behind or orbit `target`
  int target = -1;
  int effect = -1, effect_color = -1;
  bool collide = false;
  // Where the prompt put it: thirds of the frame, 0 left/top, 1 centre, 2 right/bottom; -1 free.
  int place_h = -1, place_v = -1;
};
// Relation kinds: 0 above, 1 below, 2 beside, 3 left of, 4 right of (a REL b).
struct PRelation { int a, b, kind; };

struct ParsedPrompt {
  std::vector<PObject> objects;
  std::vector<PRelation> relations;
  int background = -1, bg_color = -1, camera = -1, events = 1;
  bool cut = false;
  std::vector<std::string> mapped, not_understood;
};

ParsedPrompt parse_prompt(const std::string& prompt);
Scene fill_scene(const ParsedPrompt& p, uint64_t seed, const SampleOptions& opt);

}  // namespace kinema::world
