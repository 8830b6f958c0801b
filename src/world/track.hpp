// Tracks for the judge: per expected object and frame, the observed detection of its colour
// nearest to where the expected scene puts it, and the same for a reference rendering.
#pragma once
#include <optional>
#include <vector>

#include "kinema/world.hpp"
#include "world/detect.hpp"
#include "world/scene_facts.hpp"

namespace kinema::world {

using Track = std::vector<std::optional<Detection>>;  // one entry per frame

struct Observations {
  std::vector<std::vector<Detection>> seen, ref_seen;   // per frame: all detections
  std::vector<Track> track, ref_track;                  // per object
};

Observations observe(const std::vector<Image>& frames, const Scene& ref, const SceneFacts& facts);
void add_object_claims(const Scene& s, const SceneFacts& facts, const Observations& obs, Scorecard& card);
void add_scene_claims(const Scene& s, const SceneFacts& facts, const Observations& obs,
                      const std::vector<Image>& frames, Scorecard& card);

}  // namespace kinema::world
