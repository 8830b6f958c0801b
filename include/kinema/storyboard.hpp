// Multi-shot storyboards (issue 10, docs/modes.md): shots that cut between framings and keep
// the same subjects, colours and style. Every shot after the first is sampled with the first
// shot's anchor frame (or a character's reference) in front as known frames whose outputs are
// dropped, and with a caption phrased as the procedural world phrases its own two-shot clips.
#pragma once
#include <string>
#include <vector>

#include "kinema/modes.hpp"
#include "kinema/pipeline.hpp"

namespace kinema {

enum class Framing { unspecified, wide, close };

struct Shot {
  std::string prompt;
  double seconds = 0;        // 0: the storyboard's default (the model's clip length)
  // Camera and framing words: "close-up", "wide", "pan left", "pan right", "zoom in",
  // "zoom out", "static" (any of them, comma- or space-separated). Framing words in the prompt
  // ("close-up of the ball") count too.
  std::string camera;
};

struct Storyboard {
  std::vector<Shot> shots;
};

// A JSON list of shots [{"prompt": "...", "seconds": 2, "camera": "close-up"}, ...], or an
// object {"shots": [...]}; unknown fields, empty prompts and bad lengths are Errors naming the shot.
Storyboard storyboard_from_json(const std::string& json);
// "a red ball rolls [shot] close-up of the red ball": one shot per [shot]-separated part;
// `total_seconds` (0: each shot the model's clip length) is split evenly.
Storyboard storyboard_from_prompt(const std::string& prompt, double total_seconds = 0);
// True when a prompt holds a [shot] marker.
bool has_shot_markers(const std::string& prompt);

// Frames a shot gets at `fps`: 1 + 4k for its seconds, or default_frames when it gives none.
int shot_frames(const Shot& shot, int fps, int default_frames);
// The frames of all shots together: the length of generate_storyboard's video.
int storyboard_frames(const Storyboard& board, int fps, int default_frames);

struct StoryboardOptions {
  ModeOptions mode;          // shots longer than a chunk continue in chunks
  // Frames of the first shot placed in front of every later shot (1 + 4k; 1 = its anchor
  // frame). Ignored when the base request carries a reference (a character's).
  int reference_frames = 1;
};

// What a shot is sampled with (exposed for tests and the CLI's report).
struct ShotPlan {
  std::string caption;       // what the text encoder sees
  std::string continue_caption;  // the same without the cut, for the chunks of a long shot
  Framing framing = Framing::wide;
  int frames = 0;            // frames of the shot in the output
  bool cut_caption = false;  // the caption describes the cut to a closer view
};

// Captions and lengths of every shot for a base request (prompt expansion as the model's
// manifest asks; subjects, sizes and background carried over from the first shot).
std::vector<ShotPlan> plan_storyboard(const Pipeline& pipe, const Storyboard& board, const GenerateRequest& base,
                                      const StoryboardOptions& options = {});

// All shots in one video: seams at each cut (the first frame of every shot after the first).
// Frames go to `sink` as each shot is made, or are collected when sink is empty.
ModeResult generate_storyboard(const Pipeline& pipe, const Storyboard& board, const GenerateRequest& base,
                               const StoryboardOptions& options = {}, const FrameSink& sink = {},
                               const ProgressFn& progress = {});

}  // namespace kinema
