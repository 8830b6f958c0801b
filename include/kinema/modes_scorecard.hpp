// The modes benchmark of issue 10 (docs/modes.md, "Measured"): every mode run on held-out world
// prompts (kinema/heldout_prompts.hpp) with a model, its inputs rendered by the world renderer
// from the scene the prompt expands to, and each figure the issue asks for measured with the
// world judge, the continuity scorecard and the subject tracker (kinema/subjects.hpp):
//
//   image-to-video  frame 0's PSNR against the given image; the prompt's motion claims
//   extend fwd/bwd  subjects of the input found across the seam; seam change / median change
//   join            subjects found across both seams; seam change / median change
//   loop            closure (last -> first change) / median change
//   multi-shot      subjects kept across the cut to a close-up
//   characters      subjects of the reference found in the new clip
//   edit            the recoloured object shows its new colour (and not its old one); motion
//                   tracks of the output against the input's, in pixels
//   60 s (opt-in)   peak memory and compute per second of video against a 10 s render;
//                   colour drift of subjects from the first chunk to the last
//
// Each figure has its bar and a pass verdict: a share pools every observation (claims,
// subjects, edits) over the prompts; a ratio, PSNR or pixel figure is the median over the
// prompts (or seams), and `within` says what share of them meets the bar on its own.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kinema/media.hpp"
#include "kinema/modes.hpp"
#include "kinema/pipeline.hpp"

namespace kinema {

struct ModesScorecardOptions {
  int prompts = 4;             // held-out prompts, each run through every mode
  uint64_t seed = 1;           // which held-out prompts (and the generation seeds): `kinema scorecard`'s
  int steps = 0;               // sampling steps (0: the model's)
  float cfg = -1;              // guidance scale (< 0: the model's)
  double seconds = 2;          // new video per extension, join and loop
  float edit_strength = 0.6f;  // SDEdit strength of the edit mode
  int context_latents = 2;     // latent frames of context at a seam (ModeOptions)
  int seam_fade = 12;          // frames the VAE's error at a seam fades over (ModeOptions)
  int guidance_ramp = 6;       // latent frames guidance rises over from a seam (ModeOptions)
  bool layout = true;          // a grounded model's plan (GenerateRequest::layout)
  int plan_guidance = -1;      // GenerateRequest::plan_guidance (-1: the model's)
  // The 60 s check: a long_seconds render against a short_seconds one, both in chunks.
  bool long_check = false;
  double long_seconds = 60, short_seconds = 10;
  int chunk_frames = 0;        // chunk length of the long renders (0: the model's clip)
  std::function<void(const std::string&)> log;  // progress lines (none when empty)
};

// One measured figure with its bar.
struct ModeFigure {
  std::string id;              // stable key, e.g. "extend_forward.seam"
  std::string mode, what, unit;
  double value = 0;            // NaN when nothing could be measured (count 0)
  double bar = 0;
  bool at_most = false;        // the bar is an upper bound (else a lower bound)
  int count = 0;               // observations behind value
  std::string count_of;        // "prompts", "claims", "subjects", "seams", ...
  double within = -1;          // share of per-prompt values meeting the bar (-1: pooled figure)
  std::optional<bool> pass;    // unset when nothing was measured
  std::string note;
};

// What one prompt gave, per figure id: a value (median figures) or pass/total (pooled ones).
struct PromptMeasures {
  std::string prompt;
  uint64_t seed = 0;
  std::map<std::string, std::vector<double>> values;
  std::map<std::string, std::pair<int, int>> counts;  // id -> (pass, total)
  std::vector<std::string> notes;  // modes that could not be measured, and why
  std::string edit_prompt;         // the recoloured prompt of the edit
  void add_value(const std::string& id, double v) { values[id].push_back(v); }
  void add_count(const std::string& id, int pass, int total) {
    auto& c = counts[id];
    c.first += pass, c.second += total;
  }
};

// The 60 s check's measurement of one long render (src/generate/modes_long.cpp). Chunk costs
// are taken in the process's CPU time as well as wall time: on a shared machine the wall time
// of a chunk follows the load of other work, its CPU time far less.
struct LongRenderMeasure {
  double video_seconds = 0, wall_seconds = 0, cpu_seconds = 0;
  std::vector<double> chunk_wall_seconds, chunk_cpu_seconds;  // per chunk, in order
  // Medians over the chunks between the first (a whole clip) and the last (may be short).
  double median_chunk_wall = 0, median_chunk_cpu = 0;
  int chunks = 0;
  int64_t peak_rss_bytes = 0;       // the process's peak resident set during the render
  double first_to_last_delta_e = 0; // worst CIEDE2000 of subjects seen in the first and last chunk
  int drift_subjects = 0;           // how many such subjects
  int first_chunk_subjects = 0;     // subjects seen in the first chunk
};

struct ModesScorecard {
  std::string model, model_digest, date;
  int prompts = 0, width = 0, height = 0, fps = 0, clip_frames = 0, new_frames = 0, steps = 0;
  float cfg = 0, edit_strength = 0;
  std::vector<PromptMeasures> per_prompt;
  std::vector<ModeFigure> figures;
  std::vector<LongRenderMeasure> long_renders;  // the 60 s check's short and long render
  std::vector<std::string> notes;
};

// Runs every mode on options.prompts held-out prompts (and the 60 s check when asked) and
// aggregates the figures. Error when the model was not trained on the world's captions (its
// prompts cannot be expanded into scenes to render and judge).
ModesScorecard run_modes_scorecard(const Pipeline& pipe, const ModesScorecardOptions& options);

// The figures from per-prompt measures (every per-prompt figure is listed, measured or not).
std::vector<ModeFigure> aggregate_mode_figures(const std::vector<PromptMeasures>& prompts);
// The 60 s check's figures from its two renders; unmeasured placeholders (with `note`) when
// either is missing.
std::vector<ModeFigure> long_render_figures(const LongRenderMeasure* short_render,
                                            const LongRenderMeasure* long_render, const std::string& note = "");

std::string modes_scorecard_json(const ModesScorecard& card);
std::string modes_scorecard_table(const ModesScorecard& card);     // the printed table
std::string modes_scorecard_markdown(const ModesScorecard& card);  // the same as a Markdown table

// ---- the arithmetic of the figures, on frames ------------------------------------------------
// Peak signal-to-noise ratio of b against a, dB over RGB (255 peak); +inf for identical frames.
double frame_psnr(const Frame& a, const Frame& b);
// Motion tracks of `output` against `input`, frame by frame: the subjects the world detector
// finds in an input frame are matched one to one, nearest first, to the detections in the
// output's frame (by place only: an edit recolours); the median distance in pixels over all of
// them, an unmatched subject counting +inf (NaN when the input shows none).
double track_error_px(const std::vector<Frame>& input, const std::vector<Frame>& output);
// The world renderer's frames as kinema frames.
std::vector<Frame> render_frames(const world::Scene& scene);

// A render of `seconds` (1 + 4k frames at base's fps) in chunks (generate_long), streamed into
// the continuity meter; resets the process's peak-memory counter first (Linux).
LongRenderMeasure measure_long_render(const Pipeline& pipe, const GenerateRequest& base, double seconds,
                                      const ModeOptions& mode);
// The worst colour drift of subjects tracked from before the first seam to after the last one,
// and how many there are (from a continuity report's subjects).
std::pair<double, int> first_to_last_drift(const SubjectReport& report, const std::vector<int>& seams);

}  // namespace kinema
