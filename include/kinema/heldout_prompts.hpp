// Held-out prompts for the scorecards: scenes drawn from the procedural world that contain a
// colour x shape or behaviour x relation combination training never sees (world::is_held_out),
// each as the short prompt a user would type. `kinema scorecard` and `kinema scorecard --modes`
// draw the same sequence for the same seed, so their figures are on the same prompts. The
// training split (fresh scenes whose combinations training does see) is the control: a claim
// kind that passes there but not on held-out prompts fails on composition, not on drawing.
#pragma once
#include <cstdint>
#include <string>

#include "kinema/world.hpp"

namespace kinema {

struct HeldOutPrompt {
  world::Scene scene;      // the drawn scene (what the prompt was written from)
  std::string prompt;      // world::short_prompt of it
  uint64_t scene_seed = 0;
};

enum class PromptSplit { held_out, training };

class HeldOutPrompts {
 public:
  // `seed` picks the sequence; scenes are drawn at the given size, rate and length.
  HeldOutPrompts(uint64_t seed, const world::SampleOptions& sample, PromptSplit split = PromptSplit::held_out);
  // The next scene of the split and its prompt (scenes of the other split are skipped).
  HeldOutPrompt next();
  // The generation seed of the index-th prompt a scorecard keeps.
  uint64_t generation_seed(int64_t index) const { return seed_ * 7919 + uint64_t(index); }

 private:
  uint64_t seed_, scene_seed_;
  world::SampleOptions sample_;
  PromptSplit split_;
};

}  // namespace kinema
