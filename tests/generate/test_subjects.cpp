// Subject drift and identity (kinema/subjects.hpp) on clips the procedural world renders, where
// the truth is known: a colour that changes by a known CIEDE2000, a shape that changes across a
// cut, and the same scene cut to a closer framing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kinema/modes.hpp"
#include "kinema/subjects.hpp"
#include "kinema/world.hpp"

namespace kinema {
namespace {

// A large circle and a medium square, still, on a plain pale blue background; 24 frames at 12 fps.
world::Scene scene(world::Color circle_color, world::Shape circle_shape = world::Shape::circle) {
  world::Scene s;
  s.width = s.height = 128, s.fps = 12, s.frames = 24;
  s.background = world::Background::plain, s.bg_top = s.bg_bottom = 0;
  world::Object a;
  a.shape = circle_shape, a.color = circle_color, a.size = world::Size::large, a.x = 0.62, a.y = 0.6;
  world::Object b;
  b.shape = world::Shape::square, b.color = world::Color::blue, b.size = world::Size::medium, b.x = 0.35, b.y = 0.35;
  s.objects = {a, b};
  return s;
}

std::vector<Frame> frames(const world::Scene& s) {
  std::vector<Frame> out;
  for (world::Image& im : world::render(s)) out.push_back({im.width, im.height, std::move(im.rgb)});
  return out;
}

Lab palette_lab(world::Color c) {
  uint8_t rgb[3];
  world::color_rgb(c, rgb);
  return srgb_to_lab(rgb[0], rgb[1], rgb[2]);
}

const SubjectDrift* find(const SubjectReport& r, const std::string& shape) {
  for (const SubjectDrift& d : r.subjects)
    if (d.shape == shape) return &d;
  return nullptr;
}

TEST(Subjects, Ciede2000MatchesSharmasTestData) {
  // Sharma, Wu and Dalal (2005), table 1: pairs 1, 7, 17 and 25.
  EXPECT_NEAR(ciede2000({50, 2.6772, -79.7751}, {50, 0, -82.7485}), 2.0425, 1e-4);
  EXPECT_NEAR(ciede2000({50, 0, 0}, {50, -1, 2}), 2.3669, 1e-4);
  EXPECT_NEAR(ciede2000({50, 2.5, 0}, {73, 25, -18}), 27.1492, 1e-4);
  EXPECT_NEAR(ciede2000({60.2574, -34.0099, 36.2677}, {60.4626, -34.1751, 39.4387}), 1.2644, 1e-4);
  EXPECT_NEAR(ciede2000({50, -1, 2}, {50, 0, 0}), 2.3669, 1e-4);  // symmetric
  const Lab white = srgb_to_lab(255, 255, 255), red = srgb_to_lab(255, 0, 0);
  EXPECT_NEAR(white[0], 100, 1e-3);
  EXPECT_NEAR(white[1], 0, 1e-3);
  EXPECT_NEAR(red[0], 53.24, 0.01);
  EXPECT_NEAR(red[1], 80.09, 0.01);
  EXPECT_NEAR(red[2], 67.20, 0.01);
}

TEST(Subjects, ColourDriftIsTheTrueDeltaEAndSizeStays) {
  // The circle fades from red to orange between frames 6 and 18 (pixel blend of two renders);
  // the square does not change. Chunks of 8 frames.
  const std::vector<Frame> a = frames(scene(world::Color::red)), b = frames(scene(world::Color::orange));
  std::vector<Frame> v = a;
  for (size_t t = 0; t < v.size(); ++t) {
    const double w = std::clamp((double(t) - 5) / 13, 0.0, 1.0);
    for (size_t i = 0; i < v[t].rgb.size(); ++i) v[t].rgb[i] = uint8_t(std::lround((1 - w) * a[t].rgb[i] + w * b[t].rgb[i]));
  }
  const SubjectReport r = subject_report(v, {8, 16});
  ASSERT_EQ(r.subjects.size(), 2u);
  const SubjectDrift* circle = find(r, "circle");
  ASSERT_NE(circle, nullptr);
  const double truth = ciede2000(palette_lab(world::Color::red), palette_lab(world::Color::orange));
  EXPECT_NEAR(circle->delta_e, truth, 0.5) << "true " << truth;
  EXPECT_EQ(circle->chunks, 3);
  EXPECT_EQ(circle->color, "red");
  EXPECT_NEAR(circle->size_ratio, 1, 0.03);
  const SubjectDrift* square = find(r, "square");
  ASSERT_NE(square, nullptr);
  EXPECT_LT(square->delta_e, 0.5);
  EXPECT_NEAR(r.max_delta_e, circle->delta_e, 1e-9);
  // Unchanged: no drift. Streaming every other frame finds the same subjects.
  const SubjectReport same = subject_report(a, {8, 16});
  EXPECT_LT(same.max_delta_e, 0.5);
  EXPECT_LT(same.max_size_change, 0.03);
  SubjectOptions o;
  o.stride = 2;
  EXPECT_EQ(subject_report(v, {8, 16}, o).subjects.size(), 2u);
  EXPECT_EQ(subject_report(v, {8, 16}, o).sampled_frames, 12);
}

world::Scene with_cut(world::Scene s) {
  s.camera.cut = 1.0, s.camera.cut_zoom = 1.5, s.camera.cut_x = 0.5, s.camera.cut_y = 0.5;  // at frame 12
  return s;
}

TEST(Subjects, IdentityHoldsAcrossACutAndFailsWhenAShapeChanges) {
  const std::vector<Frame> kept = frames(with_cut(scene(world::Color::red)));
  SubjectReport r = subject_report(kept, {12});
  ASSERT_EQ(r.seams.size(), 1u);
  EXPECT_EQ(r.seams[0].frame, 12);
  EXPECT_EQ(r.seams[0].before, 2);
  EXPECT_EQ(r.seams[0].found, 2);
  EXPECT_DOUBLE_EQ(r.identity(), 1);
  const SubjectDrift* circle = find(r, "circle");
  ASSERT_NE(circle, nullptr);
  EXPECT_EQ(circle->chunks, 2);               // linked across the cut
  EXPECT_NEAR(circle->size_ratio, 1.5, 0.1);  // the closer framing
  // After the cut the circle is a triangle: the circle is lost, the square found.
  std::vector<Frame> changed = kept;
  const std::vector<Frame> tri = frames(with_cut(scene(world::Color::red, world::Shape::triangle)));
  std::copy(tri.begin() + 12, tri.end(), changed.begin() + 12);
  r = subject_report(changed, {12});
  ASSERT_EQ(r.seams.size(), 1u);
  EXPECT_EQ(r.seams[0].before, 2);
  EXPECT_EQ(r.seams[0].found, 1);
  EXPECT_EQ(r.seams[0].lost, (std::vector<std::string>{"red circle"}));
  EXPECT_DOUBLE_EQ(r.identity(), 0.5);
}

TEST(Subjects, TheContinuityScorecardCarriesThem) {
  const std::vector<Frame> v = frames(with_cut(scene(world::Color::red)));
  ContinuityMeter m;
  for (const Frame& f : v) m.add(f);
  const ContinuityScorecard s = m.finish({12}, "storyboard", false);
  EXPECT_EQ(s.subjects.subjects.size(), 2u);
  EXPECT_EQ(s.subjects.found, 2);
  const std::string j = scorecard_json(s);
  EXPECT_NE(j.find("\"delta_e\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"identity\""), std::string::npos) << j;
  EXPECT_NE(scorecard_summary(s).find("identity across seams 2/2"), std::string::npos) << scorecard_summary(s);
  // Frames with no coloured shape: nothing tracked, said so.
  const ContinuityScorecard none = continuity_scorecard({Frame{8, 8, std::vector<uint8_t>(192, 128)}}, {}, "long", false);
  EXPECT_TRUE(none.subjects.subjects.empty());
  EXPECT_NE(scorecard_summary(none).find("none tracked"), std::string::npos);
}

}  // namespace
}  // namespace kinema
