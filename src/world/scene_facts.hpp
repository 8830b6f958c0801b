// Facts derived from a Scene by simulating it: where each object starts on screen, how often
// a falling object bounces, who collides with or passes behind whom, groups of identical
// objects, and pairwise relations. Captions state them; the judge checks them.
#pragma once
#include <string>
#include <vector>

#include "kinema/world.hpp"

namespace kinema::world {

struct Relation { int a, b; std::string kind; };  // kind: "left_of" or "above"

struct SceneFacts {
  std::vector<FrameState> states;
  std::vector<std::string> place;      // "upper left", "center", ... on the first frame it is visible
  std::vector<int> bounces;            // floor bounces of falling objects
  std::vector<int> collides_with;      // -1 or the other mover it hits (same layer)
  std::vector<int> passes_behind;      // -1 or the object that hides it for a while
  std::vector<int> group_of, group_size;  // identical (colour, shape, size, behaviour) objects
  std::vector<std::string> after_phrase;  // "the red circle starts moving" for ordered events
  std::vector<Relation> rel;
  std::vector<std::string> relations;  // caption sentences of rel
};

SceneFacts scene_facts(const Scene& s);

// Screen position of a world point under a camera state, in pixels.
inline void to_screen(const Scene& s, const CameraState& c, double x, double y, double& px, double& py) {
  px = (x - c.cx) * c.zoom * s.height + s.width / 2.0;
  py = (y - c.cy) * c.zoom * s.height + s.height / 2.0;
}

}  // namespace kinema::world
