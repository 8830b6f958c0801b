// `kinema generate --trace FILE.png`: what the sampler was heading for as it went. Every k-th
// step's data prediction x0 = x − σ·v is decoded and drawn as one row of 8 frames, top (pure
// noise) to bottom (the result), so one can see at which noise level a clip's layout, colours
// or stray marks appear.
#pragma once
#include <string>
#include <vector>

#include "kinema/media.hpp"
#include "kinema/pipeline.hpp"

namespace kinema::cli {

class DenoiseTrace {
 public:
  // every = 0: about 10 rows whatever the step count.
  DenoiseTrace(const Pipeline& pipe, std::string path, int every);
  void add(const GenerateProgress& p);  // decodes the steps it keeps
  void write() const;                    // the rows stacked into the PNG; Error when none
  const std::string& path() const { return path_; }

 private:
  const Pipeline& pipe_;
  std::string path_;
  int every_;
  std::vector<Frame> rows_;
  std::vector<float> sigmas_;
};

}  // namespace kinema::cli
