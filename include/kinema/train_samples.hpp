// Sample videos of a DiT training run: every N steps the run's current weights (the EMA, with
// the text encoder trained alongside or the frozen one) generate one short clip per fixed
// prompt, with fixed seeds, through the same pipeline as `kinema generate`, so a run's
// progress can be watched clip by clip (`kinema train dit --sample-every N`, docs/train.md).
//
// The prompts come from the training distribution, never the held-out split the scorecard
// measures (world::is_held_out), so the samples say what the model learnt, not what it was
// never shown. Sampling reads a copy of the weights and its own RNG (the pipeline's seeded
// noise): the trainer's weights, data order and RNG are untouched, so a run with samples
// trains bit for bit as one without.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kinema/media.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/text_encoder.hpp"
#include "kinema/tokenizer.hpp"
#include "kinema/vae.hpp"
#include "kinema/world_video.hpp"

namespace kinema {

struct TrainSampleOptions {
  std::vector<std::string> prompts;  // one clip each (expanded into the world's captions)
  int width = 128, height = 128;     // the default model's first trained size
  int frames = 25, fps = 12;
  int steps = 20;
  float cfg = 5.f;
  std::string sampler = "unipc";
  int64_t base_tokens = 256;         // the trainer's, so the timestep shift is training's
  int64_t max_text_len = 256;        // caption tokens kept, as the world latent set keeps
  uint64_t seed = 1;                 // prompt i samples (and expands) with seed + i
};

// `count` prompts from the training distribution: the short prompts of the scenes the world
// data draws for indices 0, 1, 2, ... (pick_world_clip never draws a held-out scene), keeping
// those whose expansion at their sample seed is understood, not held out and not a repeat.
// A pure function of (data, options).
std::vector<std::string> default_sample_prompts(const world::WorldVideoOptions& data,
                                                const TrainSampleOptions& options, int count = 4);

// One prompt per line of a text file; blank lines and surrounding spaces are dropped. Error for
// a file that cannot be read or holds no prompt.
std::vector<std::string> read_sample_prompts(const std::string& path);

// Error naming the first prompt whose expansion (at its sample seed and the sample size)
// describes a held-out scene: those stay unseen for the scorecard.
void check_sample_prompts(const TrainSampleOptions& options);

// The pipeline that samples a run at its current weights: the DiT of `weights` (a training
// checkpoint's tensors, e.g. DiTTrainer::ema_tensors()), the text encoder joined to it
// (join_text_encoder) or else `frozen_encoder`, and the run's VAE and tokenizer. The weights
// are copied: nothing the trainer holds is read while sampling.
Pipeline sampling_pipeline(const TensorFile& weights, const TextEncoder* frozen_encoder, const VAE& vae,
                           const Tokenizer& tokenizer, const TrainSampleOptions& options);

// One clip per prompt: the frames `kinema generate` gives for the prompt at seed + i.
std::vector<std::vector<Frame>> sample_clips(const Pipeline& pipe, const TrainSampleOptions& options);

// "DIR/step-XXXXXXXX" (8 digits), where a step's samples go.
std::string sample_step_dir(const std::string& dir, int64_t step);

// Writes DIR/step-XXXXXXXX/NN.mp4 (prompt NN's clip, two digits), DIR/step-XXXXXXXX/sheet.png
// (one row of 8 frames per prompt, in prompt order) and DIR/prompts.txt ("NN<TAB>prompt" per
// line). Returns the step directory.
std::string write_train_samples(const std::string& dir, int64_t step,
                                const std::vector<std::vector<Frame>>& clips, const TrainSampleOptions& options);

}  // namespace kinema
