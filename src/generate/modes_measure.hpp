// One held-out prompt run through each mode (src/generate/modes_measure.cpp, modes_edit_measure.cpp),
// for run_modes_scorecard: the ground truth is the world's rendering of the scene the prompt
// expands to, exactly as generation expands it, so inputs, prompt, caption and judge agree.
#pragma once
#include <vector>

#include "kinema/modes_scorecard.hpp"

namespace kinema::detail {

struct ModeCase {
  GenerateRequest base;          // prompt, seed, steps, cfg, size, fps (the model's clip length)
  world::Scene truth;            // the prompt's expansion at the clip's length
  std::vector<Frame> clip;       // render(truth): F frames
  std::vector<Frame> long_clip;  // the expansion at 2F + n frames, rendered: join's a and b, backward's input
  int F = 0, n = 0;              // clip frames, new frames per extension/join/loop
  ModeOptions mode;
  float strength = 0.6f;         // the edit's
};

// The case of a prompt, or false when the expansion does not understand it (the model is not
// to blame: `kinema scorecard` skips those too).
bool make_mode_case(const Pipeline& pipe, const GenerateRequest& base, int new_frames, ModeCase& out);

void measure_image_to_video(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m);
void measure_extend(const Pipeline& pipe, const ModeCase& c, bool backward, PromptMeasures& m);
void measure_join(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m);
void measure_loop(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m);
void measure_multishot(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m);
void measure_character(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m);
void measure_edit(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m);

// The judge's frames from kinema frames.
std::vector<world::Image> judge_images(const std::vector<Frame>& frames);

}  // namespace kinema::detail
