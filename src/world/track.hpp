// Tracks for the judge: per expected object and frame, the observed detection of its colour
// nearest to where the expected scene puts it, and the same for a reference rendering.
#pragma once
#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "kinema/world.hpp"
#include "world/detect.hpp"
#include "world/scene_facts.hpp"

namespace kinema::world {

using Track = std::vector<std::optional<Detection>>;  // one entry per frame

struct Observations {
  std::vector<std::vector<Detection>> seen, ref_seen;   // per frame: all detections
  std::vector<Track> track, ref_track;                  // per object
  std::vector<Image> ref_frames;                        // the expected scene, rendered
};

Observations observe(const std::vector<Image>& frames, const Scene& ref, const SceneFacts& facts);
void add_object_claims(const Scene& s, const SceneFacts& facts, const Observations& obs, Scorecard& card);
void add_scene_claims(const Scene& s, const SceneFacts& facts, const Observations& obs,
                      const std::vector<Image>& frames, Scorecard& card);
// Foreground no expected object accounts for (clutter_claim.cpp), beyond the reference's: the
// claim passes while it is at most this share of the frame.
inline constexpr double kClutterAllowance = 0.10;
void add_clutter_claim(const Scene& s, const std::vector<Image>& frames, const Observations& obs, Scorecard& card);
void add_cross_shot_claim(const Scene& s, const SceneFacts& facts, const Observations& obs,
                          const std::vector<Image>& frames, Scorecard& card);

// Per-row median colours of a frame (the background model the detector uses), resampled to
// 32 rows: objects covering less than half a row do not show.
std::vector<std::array<double, 3>> row_profile(const Image& f);
// Mean colour distance (color_dist) between two row profiles, row by row.
double profile_distance(const std::vector<std::array<double, 3>>& a, const std::vector<std::array<double, 3>>& b);

// The upper median of v (v.size() / 2 after sorting); 0 when v is empty.
double median(std::vector<double> v);

// A claim with its score clamped to [0, 1]; it passes at 0.5.
inline void add_claim(Scorecard& card, const char* kind, const std::string& text, double score) {
  score = std::clamp(score, 0.0, 1.0);
  card.claims.push_back({kind, text, score, score >= 0.5});
}

// "red circle": how claims name object i.
inline std::string object_name(const Scene& s, int i) {
  return std::string(color_name(s.objects[i].color)) + " " + shape_name(s.objects[i].shape);
}

}  // namespace kinema::world
