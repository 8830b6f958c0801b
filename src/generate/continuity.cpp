// The continuity scorecard of issue 10: how large the change across each seam is against the
// ordinary frame-to-frame change inside chunks, and for loops the last -> first change.
// Change = mean absolute RGB difference of consecutive frames (0..255).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "generate/subjects_json.hpp"
#include "kinema/error.hpp"
#include "kinema/modes.hpp"

namespace kinema {

double mean_abs_diff(const Frame& a, const Frame& b) {
  check(a.width == b.width && a.height == b.height && a.rgb.size() == b.rgb.size() && !a.rgb.empty(),
        "continuity", "frames differ in size: ", a.width, "x", a.height, " and ", b.width, "x", b.height);
  int64_t sum = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) sum += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  return double(sum) / double(a.rgb.size());
}

void ContinuityMeter::add(const Frame& frame) {
  subjects_.add(frame);
  if (count_ == 0) first_ = frame;
  else changes_.push_back(mean_abs_diff(previous_, frame));
  previous_ = frame;
  ++count_;
}

ContinuityScorecard ContinuityMeter::finish(const std::vector<int>& seams_at, const std::string& mode,
                                            bool loop) const {
  ContinuityScorecard s;
  s.mode = mode, s.frames = count_, s.loop = loop;
  std::vector<double> inside;
  for (size_t i = 0; i < changes_.size(); ++i)  // changes_[i]: frame i -> i + 1
    if (std::find(seams_at.begin(), seams_at.end(), int(i + 1)) == seams_at.end())
      inside.push_back(changes_[i]);
  if (!inside.empty()) {
    std::sort(inside.begin(), inside.end());
    const size_t h = inside.size() / 2;
    s.median_change = inside.size() % 2 ? inside[h] : 0.5 * (inside[h - 1] + inside[h]);
  }
  auto ratio = [&](double v) { return s.median_change > 0 ? v / s.median_change : (v > 0 ? INFINITY : 0.0); };
  for (int f : seams_at) {
    if (f <= 0 || f >= count_) continue;
    s.seam_frames.push_back(f);
    s.seams.push_back(changes_[size_t(f - 1)]);
    s.seam_ratios.push_back(ratio(s.seams.back()));
  }
  if (loop && count_ > 1) s.loop_closure = mean_abs_diff(previous_, first_), s.loop_ratio = ratio(s.loop_closure);
  s.subjects = subjects_.finish(seams_at);
  return s;
}

ContinuityScorecard continuity_scorecard(const std::vector<Frame>& frames, const std::vector<int>& seam_frames,
                                         const std::string& mode, bool loop, const SubjectOptions& subjects) {
  SubjectOptions o = subjects;  // a minute costs ~240 detections
  if (o.stride <= 0) o.stride = std::max(1, int(frames.size()) / 240);
  ContinuityMeter m(o);
  for (const Frame& f : frames) m.add(f);
  return m.finish(seam_frames, mode, loop);
}

std::string scorecard_json(const ContinuityScorecard& s) {
  nlohmann::json j;
  j["mode"] = s.mode, j["frames"] = s.frames;
  j["measure"] = "mean absolute RGB difference of consecutive frames, 0..255";
  j["median_change"] = s.median_change;
  j["seams"] = nlohmann::json::array();
  for (size_t i = 0; i < s.seams.size(); ++i)
    j["seams"].push_back({{"frame", s.seam_frames[i]}, {"change", s.seams[i]}, {"ratio", s.seam_ratios[i]}});
  if (s.loop) j["loop_closure"] = {{"change", s.loop_closure}, {"ratio", s.loop_ratio}};
  j["target_ratio"] = 1.5;  // issue 10: seams and loop closure within 1.5x the median change
  j["subjects"] = subjects_to_json(s.subjects);
  return j.dump(2);
}

std::string scorecard_summary(const ContinuityScorecard& s) {
  double worst = 0;
  for (double r : s.seam_ratios) worst = std::max(worst, r);
  char b[256];
  std::snprintf(b, sizeof b, "continuity: %d frames, median change %.2f; %zu seam(s), worst %.2fx the median",
                s.frames, s.median_change, s.seams.size(), worst);
  std::string out = b;
  if (s.loop) {
    std::snprintf(b, sizeof b, "; loop closure %.2f (%.2fx)", s.loop_closure, s.loop_ratio);
    out += b;
  }
  return out + " (target <= 1.5x)\n" + subjects_summary(s.subjects);
}

}  // namespace kinema
