// The subject report in the continuity scorecard: JSON beside the file and one summary line.
#include "generate/subjects_json.hpp"

#include <cstdio>

namespace kinema {

nlohmann::json subjects_to_json(const SubjectReport& r) {
  nlohmann::json tracked = nlohmann::json::array(), seams = nlohmann::json::array();
  for (const SubjectDrift& d : r.subjects)
    tracked.push_back({{"color", d.color}, {"shape", d.shape}, {"first_frame", d.first_frame},
                       {"last_frame", d.last_frame}, {"chunks", d.chunks},
                       {"lab_first", {d.lab_first[0], d.lab_first[1], d.lab_first[2]}},
                       {"lab_last", {d.lab_last[0], d.lab_last[1], d.lab_last[2]}},
                       {"delta_e", d.delta_e}, {"size_ratio", d.size_ratio}});
  for (const SeamIdentity& s : r.seams)
    seams.push_back({{"frame", s.frame}, {"before", s.before}, {"found", s.found}, {"lost", s.lost}});
  return {{"measure", "world detector tracks; colour drift = CIEDE2000 between a subject's median L*a*b* colour "
                      "in the first and last chunk it is seen in (one chunk: first and last quarter); size = "
                      "sqrt of area, last / first; identity = subjects seen before a seam found after it with "
                      "the same named colour and shape"},
          {"sampled_frames", r.sampled_frames}, {"tracked", tracked},
          {"max_delta_e", r.max_delta_e}, {"max_size_change", r.max_size_change},
          {"identity", {{"seams", seams}, {"before", r.before}, {"found", r.found}, {"kept", r.identity()}}},
          {"targets", {{"max_delta_e", 5.0}, {"identity", 0.9}}}};  // issue 10's figures
}

std::string subjects_summary(const SubjectReport& r) {
  char b[256];
  if (r.subjects.empty()) return "subjects: none tracked (the world detector found no coloured shape)";
  std::snprintf(b, sizeof b, "subjects: %zu tracked, worst colour drift %.1f dE00 (target <= 5), size change %.0f%%",
                r.subjects.size(), r.max_delta_e, 100 * r.max_size_change);
  std::string out = b;
  if (!r.seams.empty()) {
    std::snprintf(b, sizeof b, "; identity across seams %d/%d (target >= 90%%)", r.found, r.before);
    out += b;
  }
  return out;
}

}  // namespace kinema
