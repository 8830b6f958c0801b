// World captions as a text-encoder training set: sample index -> a seeded world scene (never
// one of the held-out combinations) at one of the default model's sizes, as an image or a clip,
// and its detailed caption, or (30% of the time) its short prompt, as users type them; then
// tokenized, with each token classed as colour / shape / spatial / other by the world's
// lexicon. A pure function of (tokenizer, options, index), so training resumes exactly.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kinema/text_train.hpp"
#include "kinema/tokenizer.hpp"
#include "kinema/world.hpp"

namespace kinema::world {

struct CaptionDatasetOptions {
  int64_t count = 1000000;  // indices (the world is unbounded; this fixes the epoch length)
  uint64_t seed = 1;
  double short_prompt_fraction = 0.3;  // share of samples that are short prompts
  double image_fraction = 0.25;        // share of one-frame scenes (the rest have `frames`)
  int frames = 25;
  int fps = 12;
  // Scene sizes (width, height): 1:1, 5:3 and 3:5, the default model's aspect ratios.
  std::vector<std::pair<int, int>> sizes = {{128, 128}, {160, 96}, {96, 160}};
};

// The scene and text a sample index uses (exposed for tests).
struct CaptionPick {
  Scene scene;
  bool short_prompt = false;
  std::string text;
};
CaptionPick pick_caption(const CaptionDatasetOptions& options, int64_t index);

// The class of each id (the word its piece belongs to, looked up in the world's lexicon:
// colours, shapes, and size / direction / relation words as spatial; eos and anything else
// other).
std::vector<WordClass> caption_word_classes(const Tokenizer& tokenizer, const std::vector<int32_t>& ids);

class CaptionDataset final : public CaptionSource {
 public:
  CaptionDataset(Tokenizer tokenizer, const CaptionDatasetOptions& options = {});
  int64_t size() const override { return options_.count; }
  CaptionSample get(int64_t index) const override;
  const CaptionDatasetOptions& options() const { return options_; }

 private:
  Tokenizer tokenizer_;
  CaptionDatasetOptions options_;
};

// The fixed held-out caption set the text trainer reports accuracy on: `count` captions from
// the world seed kHeldOutCaptionSeed (a stream no training run with a small --data-seed reads).
inline constexpr uint64_t kHeldOutCaptionSeed = 0x6576616c2d636170ULL;
CaptionDataset heldout_caption_set(const Tokenizer& tokenizer, int64_t count = 512);

}  // namespace kinema::world
