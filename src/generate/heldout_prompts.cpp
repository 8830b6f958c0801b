// The held-out prompt sequence of the scorecards (kinema/heldout_prompts.hpp).
#include "kinema/heldout_prompts.hpp"

namespace kinema {

HeldOutPrompts::HeldOutPrompts(uint64_t seed, const world::SampleOptions& sample, PromptSplit split)
    : seed_(seed), scene_seed_(0x5c0eca4d00000000ULL + seed * 1000003ULL), sample_(sample), split_(split) {}

HeldOutPrompt HeldOutPrompts::next() {
  for (;;) {
    world::Scene scene = world::sample_scene(++scene_seed_, sample_);
    if (world::is_held_out(scene) == (split_ == PromptSplit::held_out)) return {scene, world::short_prompt(scene, scene_seed_), scene_seed_};
  }
}

}  // namespace kinema
