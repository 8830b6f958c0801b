// Subjects in a made video, for the continuity scorecard (docs/modes.md): the procedural world's
// detector finds coloured shapes in sampled frames, tracks follow them inside each chunk (or
// shot), and the report says how far each subject's colour (CIEDE2000) and size drift from the
// first chunk it is seen in to the last, and whether the subjects seen before each seam are
// found after it with the same colour and shape (the world judge's notion of identity).
// SubjectMeter streams: it keeps a few numbers per detection, never a frame.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "kinema/media.hpp"

namespace kinema {

// CIE L*a*b* (D65) of an sRGB colour given as 0..255 components.
using Lab = std::array<double, 3>;
Lab srgb_to_lab(double r, double g, double b);
// CIEDE2000 colour difference (Sharma, Wu and Dalal 2005; kL = kC = kH = 1).
double ciede2000(const Lab& x, const Lab& y);

struct SubjectOptions {
  // Detect every stride-th frame; 0: 1 when streaming, frames / 240 (at least 1) when the frames
  // are given at once (subject_report, continuity_scorecard), so a minute costs ~240 detections.
  int stride = 0;
  int window = 12;             // frames each side of a seam where identity is looked for
  double min_presence = 0.3;   // a track is a subject when seen in this share of its chunk's sampled frames
  double track_delta_e = 25;   // largest colour step (CIEDE2000) a track or a link across a seam takes
};

struct SubjectDrift {
  std::string color, shape;    // named colour and shape (the world's vocabulary) where first seen
  int first_frame = 0, last_frame = 0;  // first and last frame it was detected in
  Lab lab_first{}, lab_last{};  // median colour in the first and last chunk it is seen in
  double delta_e = 0;          // CIEDE2000 between the two
  double size_ratio = 1;       // linear size (sqrt of area), last chunk / first chunk
  int chunks = 1;              // chunks (or shots) it is seen in
};

struct SeamIdentity {
  int frame = 0;               // first frame after the seam
  int before = 0, found = 0;   // subjects seen just before it, and of those found just after
  std::vector<std::string> lost;  // "red circle" for each subject not found
};

struct SubjectReport {
  int sampled_frames = 0;
  std::vector<SubjectDrift> subjects;
  std::vector<SeamIdentity> seams;
  double max_delta_e = 0, max_size_change = 0;  // worst |size_ratio - 1|
  int before = 0, found = 0;   // over all seams
  double identity() const { return before ? double(found) / before : 1.0; }
};

class SubjectMeter {
 public:
  explicit SubjectMeter(SubjectOptions options = {}) : options_(options) {}
  void add(const Frame& frame);
  // seams: the first frame after each seam (chunk boundary, cut); outside (0, frames) ignored.
  SubjectReport finish(const std::vector<int>& seams) const;

  // One detection of a sampled frame.
  struct Seen {
    int frame = 0, color = 0, shape = 0;
    double cx = 0, cy = 0, area = 0;
    Lab lab{};
  };

 private:
  SubjectOptions options_;
  std::vector<Seen> seen_;
  int count_ = 0, height_ = 0;
};

// One line for the terminal: subjects tracked, worst colour drift, identity across seams.
std::string subjects_summary(const SubjectReport& r);

SubjectReport subject_report(const std::vector<Frame>& frames, const std::vector<int>& seams,
                             const SubjectOptions& options = {});

}  // namespace kinema
