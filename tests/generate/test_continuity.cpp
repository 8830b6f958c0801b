// The continuity scorecard on synthetic frame sequences with a known seam.
#include <gtest/gtest.h>

#include "kinema/modes.hpp"

namespace kinema {
namespace {

Frame flat(int v) { return Frame{4, 2, std::vector<uint8_t>(4 * 2 * 3, uint8_t(v))}; }

TEST(Continuity, SeamAgainstTheMedianChangeInsideChunks) {
  // Values 0, 2, 4, 6, 8 | 38, 40, 42, 44: a jump of 30 at frame 5, steps of 2 elsewhere.
  std::vector<Frame> f;
  for (int t = 0; t < 5; ++t) f.push_back(flat(2 * t));
  for (int t = 0; t < 4; ++t) f.push_back(flat(38 + 2 * t));
  ContinuityScorecard s = continuity_scorecard(f, {5}, "extend", false);
  EXPECT_EQ(s.frames, 9);
  EXPECT_DOUBLE_EQ(s.median_change, 2);
  ASSERT_EQ(s.seams.size(), 1u);
  EXPECT_EQ(s.seam_frames[0], 5);
  EXPECT_DOUBLE_EQ(s.seams[0], 30);
  EXPECT_DOUBLE_EQ(s.seam_ratios[0], 15);
  EXPECT_FALSE(s.loop);
  // As a loop: last (44) -> first (0).
  s = continuity_scorecard(f, {5}, "loop", true);
  EXPECT_DOUBLE_EQ(s.loop_closure, 44);
  EXPECT_DOUBLE_EQ(s.loop_ratio, 22);
  const std::string j = scorecard_json(s);
  EXPECT_NE(j.find("\"loop_closure\""), std::string::npos);
  EXPECT_NE(j.find("\"median_change\": 2"), std::string::npos) << j;
  EXPECT_NE(scorecard_summary(s).find("15.00x"), std::string::npos) << scorecard_summary(s);
}

TEST(Continuity, SeamlessSequenceScoresOneAndStreamingMatches) {
  std::vector<Frame> f;
  for (int t = 0; t < 8; ++t) f.push_back(flat(10 + 3 * t));
  ContinuityMeter m;
  for (const Frame& x : f) m.add(x);
  ContinuityScorecard s = m.finish({4}, "long", false);
  EXPECT_DOUBLE_EQ(s.median_change, 3);
  EXPECT_DOUBLE_EQ(s.seam_ratios[0], 1);
  EXPECT_DOUBLE_EQ(mean_abs_diff(f[0], f[7]), 21);
  // Seams outside the clip are ignored; a median of the even count is the mean of the middle two.
  f.push_back(flat(10 + 3 * 7 + 5));
  s = continuity_scorecard(f, {0, 99}, "long", false);
  EXPECT_TRUE(s.seams.empty());
  EXPECT_DOUBLE_EQ(s.median_change, 3);
}

}  // namespace
}  // namespace kinema
