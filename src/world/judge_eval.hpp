// Measures the judge's own accuracy: claims of rendered clips must be judged true, and claims
// that a perturbed spec makes false must be judged false. Used by tests and `world selftest`.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "kinema/world.hpp"

namespace kinema::world {

struct JudgeEvalOptions {
  int clips = 50;
  int size = 128, fps = 12, frames = 24;
  uint64_t seed = 1;
  bool reencode = false;   // H.264 CRF 28 through the ffmpeg CLI before judging
  bool downscale = false;  // render at 2x the size and box-downscale before judging
  int negatives = 2;       // perturbed specs judged per clip
  int blur = 0;            // passes of a 3x3 box blur before judging (2 passes ~ Gaussian sigma 1)
  // Targeted measurement of one claim kind: only clips whose scene has a perturbation of this
  // kind are judged (`clips` counts those), and every perturbed spec changes a claim of it.
  // Rare kinds (bounce, cross_shot, collision) get enough cases this way. Empty: all clips.
  std::string kind;
  // When set, every miss is written there: DIR/<seed>-<true|false>-<kind>[-<rep>].json (specs,
  // the claim, the scorecard) and .png (the judged frames stacked vertically).
  std::string dump_dir;
};

struct KindStats { int true_total = 0, true_pass = 0, false_total = 0, false_caught = 0; };

struct JudgeEval {
  int clips = 0;     // clips judged
  long sampled = 0;  // scenes sampled (more than clips in a targeted run)
  std::map<std::string, KindStats> kinds;
  std::vector<std::string> misses;  // up to 40 example failures, for debugging
  double true_rate() const;
  double false_rate() const;
  // Kinds below the bars ("bounce: false 10/11 (90.9%)"), among those with at least
  // `min_cases` cases on that side; smaller samples cannot show a 2% or 5% miss rate.
  std::vector<std::string> kinds_below(double min_true, double min_false, int min_cases) const;
  std::string report() const;
};

// A spec that differs from s in one claim; `kind` names the claim kind it falsifies and
// `needle` a substring of that claim's text. Returns false when no perturbation applies.
// A non-empty `only` restricts the perturbations to those of that claim kind.
bool perturb(const Scene& s, uint64_t seed, Scene& out, std::string& kind, std::string& needle,
             const std::string& only = "");

// Claim kinds that perturb() can falsify (every kind the judge scores), for option checks.
bool is_claim_kind(const std::string& kind);
std::vector<std::string> claim_kinds();  // sorted

JudgeEval evaluate_judge(const JudgeEvalOptions& opt);

// The frames the measurement judges for scene s: rendered, then downscaled, blurred and
// re-encoded (through the file `tmp`) as the options say.
std::vector<Image> prepare_frames(const Scene& s, const JudgeEvalOptions& opt, const std::string& tmp);

}  // namespace kinema::world
