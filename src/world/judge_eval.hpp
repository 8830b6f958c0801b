// Measures the judge's own accuracy: claims of rendered clips must be judged true, and claims
// that a perturbed spec makes false must be judged false. Used by tests and `world selftest`.
#pragma once
#include <map>
#include <string>

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
};

struct KindStats { int true_total = 0, true_pass = 0, false_total = 0, false_caught = 0; };

struct JudgeEval {
  std::map<std::string, KindStats> kinds;
  std::vector<std::string> misses;  // up to 40 example failures, for debugging
  double true_rate() const;
  double false_rate() const;
  std::string report() const;
};

// A spec that differs from s in one claim; `kind` names the claim kind it falsifies and
// `needle` a substring of that claim's text. Returns false when no perturbation applies.
bool perturb(const Scene& s, uint64_t seed, Scene& out, std::string& kind, std::string& needle);

JudgeEval evaluate_judge(const JudgeEvalOptions& opt);

}  // namespace kinema::world
