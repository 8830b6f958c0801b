// The policy never refuses kinema's own world: every prompt and caption the procedural world
// writes (the shipped model's whole vocabulary of shapes, colours, motions and backgrounds) is
// allowed. These prompts are drawn from the world itself, not from the classifier's templates.
#include <gtest/gtest.h>

#include <string>

#include "kinema/safety.hpp"
#include "kinema/world.hpp"

namespace kinema {
namespace {

TEST(SafetyPolicy, AllowsEveryPromptAndCaptionOfTheWorld) {
  const PromptPolicy policy = PromptPolicy::load_default();
  int refused = 0, checked = 0;
  for (uint64_t seed = 0x77a11d; seed < 0x77a11d + 400; ++seed) {
    const world::Scene s = world::sample_scene(seed, {128, 128, 12, seed % 8 ? 25 : 1});
    for (const std::string& text : {world::short_prompt(s, seed), world::detailed_caption(s, seed)}) {
      const PolicyDecision d = policy.check(text);
      ++checked;
      if (!d.allowed && ++refused <= 10)
        ADD_FAILURE() << "refused (" << d.category << ", " << d.rule << ": " << d.matched << "): " << text;
    }
  }
  EXPECT_EQ(refused, 0) << "of " << checked;
}

}  // namespace
}  // namespace kinema
