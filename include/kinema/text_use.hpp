// Does a model read its caption? The flow-matching loss of its DiT on world clips it was not
// trained on, with each clip's own detailed caption, with another clip's and with the empty
// caption, at a few noise levels. A model that follows prompts predicts much better with its
// own caption, above all from near-pure noise (t close to 1), where the caption is nearly all
// it has to go on; equal losses mean the caption is ignored. Where the objects are, it also
// compares the own caption with its shapes renamed and with its places mirrored: does the DiT
// read those words? `kinema model text-use DIR`.
//
// With training_index set, the clips are instead the world training set's (the indices
// `kinema train dit --data world` draws from, with its default data options): the own-caption
// loss there against fresh clips' measures how much of the training set the model memorised
// (the same distribution either way, so a gap is memorisation, not a harder test set).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "kinema/pipeline.hpp"

namespace kinema {

struct TextUseOptions {
  int clips = 8;                                    // world clips (seeds seed .. seed + clips - 1)
  uint64_t seed = 900000001;                        // far from the training data's seeds
  std::vector<float> t = {0.3f, 0.6f, 0.9f, 0.97f}; // noise levels (x_t = (1 - t) x0 + t eps)
  int width = 128, height = 128, frames = 25, fps = 12;
  // Training-set indices training_index .. + clips - 1 in place of fresh scenes (their own
  // sizes, lengths and images, as in training; width/height/frames/fps/seed then unused
  // except seed for the noise).
  std::optional<int64_t> training_index;
};

struct TextUseRow {
  float t = 0;
  double own = 0, other = 0, empty = 0;  // mean square velocity error over the clips
  // With the own caption but every object's shape named as the next shape (circle -> square ...):
  // a shape word the DiT reads costs loss there, above all where the objects are.
  double swapped = 0;
  // own and swapped over the latent positions the objects cover (world::object_coverage), and
  // there with the caption of the scene turned half a turn (every object named in the opposite
  // part of the frame): a DiT that reads where things are predicts them elsewhere with it.
  double object_own = 0, object_swapped = 0, object_mirrored = 0;
  // Per latent frame (index 0 = the first video frame, then 4 video frames each): the own
  // caption's loss, and the mean square of (v_own - v_empty), the difference classifier-free
  // guidance scales up. Averaged over the clips long enough to have the frame.
  std::vector<double> own_by_frame, guidance_by_frame;
};

std::vector<TextUseRow> measure_text_use(const Pipeline& pipeline, const TextUseOptions& options = {});

}  // namespace kinema
