// world::align_plan: the expanded prompt's plan moved onto what given frames show (the frames are
// the world's own renders, so where each object truly is is known exactly).
#include <gtest/gtest.h>

#include <cmath>

#include "kinema/error.hpp"
#include "kinema/world.hpp"
#include "kinema/world_latents.hpp"

using kinema::Error;
using namespace kinema::world;

namespace {

Object object(Shape shape, Color color, Size size, double x, double y, Behavior b = Behavior::still,
              Dir dir = Dir::right, double speed = 0.3) {
  Object o;
  o.shape = shape, o.color = color, o.size = size, o.x = x, o.y = y, o.behavior = b, o.dir = dir, o.speed = speed;
  return o;
}

Scene scene_of(std::vector<Object> objects) {
  Scene s;
  s.frames = 24, s.background = Background::gradient, s.bg_top = 1, s.bg_bottom = 2;
  s.objects = std::move(objects);
  return s;
}

// Distance in pixels between where two scenes have object i (and j) in frame f.
double apart(const Scene& a, size_t i, const Scene& b, size_t j, int f) {
  const ObjectState p = simulate(a)[size_t(f)].objects[i], q = simulate(b)[size_t(f)].objects[j];
  return std::hypot(p.x - q.x, p.y - q.y) * a.height;
}

}  // namespace

TEST(AlignPlan, ImageToVideoMovesEachNamedObjectOntoTheImageKeepsItsMotionAndAddsWhatTheWordsMissed) {
  // The image: a large red circle up right and a blue square the words do not name.
  const Scene image = scene_of({object(Shape::circle, Color::red, Size::large, 0.72, 0.3),
                                object(Shape::square, Color::blue, Size::small, 0.25, 0.75)});
  // The words' plan: a medium red circle moving right from the left, and a green star not in the image.
  const Scene plan = scene_of({object(Shape::circle, Color::red, Size::medium, 0.3, 0.5, Behavior::move),
                               object(Shape::star, Color::green, Size::small, 0.5, 0.2)});
  const AlignedPlan a = align_plan(plan, {{0, render(image)[0]}});
  EXPECT_EQ(a.anchor, 0);
  EXPECT_EQ(a.matched, 1);
  EXPECT_EQ(a.added, 1);
  ASSERT_EQ(a.scene.objects.size(), 3u);
  const Object& red = a.scene.objects[0];
  EXPECT_LT(apart(a.scene, 0, image, 0, 0), 1.5);  // onto the image's circle
  EXPECT_EQ(red.size, Size::large);
  EXPECT_EQ(red.behavior, Behavior::move);         // and still moving as the words said
  EXPECT_GT(simulate(a.scene)[12].objects[0].x, red.x + 0.1);
  EXPECT_EQ(a.scene.objects[1].x, plan.objects[1].x);  // the star is not in the image: as planned
  const Object& added = a.scene.objects[2];
  EXPECT_EQ(added.color, Color::blue);
  EXPECT_EQ(added.shape, Shape::square);
  EXPECT_EQ(added.size, Size::small);
  EXPECT_EQ(added.behavior, Behavior::still);
  EXPECT_LT(apart(a.scene, 2, image, 1, 0), 1.5);
  // Nothing of a planned object's colour in the image: nothing moves.
  const Scene other = scene_of({object(Shape::circle, Color::yellow, Size::large, 0.72, 0.3)});
  const AlignedPlan none = align_plan(plan, {{0, render(other)[0]}});
  EXPECT_EQ(none.matched, 0);
  EXPECT_EQ(none.scene.objects[0].x, plan.objects[0].x);
}

TEST(AlignPlan, ExtensionsArePinnedToTheGivenFrameNextToTheNewOnesEvenAcrossABounce) {
  // The input: a circle bouncing off the right wall and a square falling; the plan has the same
  // motions from other starts, so aligned at the anchor it should follow the input throughout.
  Scene truth = scene_of({object(Shape::circle, Color::orange, Size::medium, 0.7, 0.4, Behavior::bounce,
                                       Dir::right, 0.5),
                                object(Shape::square, Color::purple, Size::small, 0.3, 0.2, Behavior::move, Dir::down,
                                       0.2)});
  truth.objects[1].layer = 1;  // no collisions: each follows its own motion
  Scene plan = truth;
  plan.objects[0].x = 0.4, plan.objects[0].y = 0.6, plan.objects[1].x = 0.6, plan.objects[1].y = 0.3;
  const std::vector<Image> frames = render(truth);
  // Extend forward: the first four frames given, pinned to the last of them.
  const AlignedPlan forward = align_plan(plan, {{0, frames[0]}, {1, frames[1]}, {2, frames[2]}, {3, frames[3]}});
  EXPECT_EQ(forward.anchor, 3);
  EXPECT_EQ(forward.matched, 2);
  EXPECT_EQ(forward.added, 0);
  // Extend backward: the last four given, pinned to the first of them (after the bounce).
  const AlignedPlan backward = align_plan(plan, {{20, frames[20]}, {21, frames[21]}, {22, frames[22]}, {23, frames[23]}});
  EXPECT_EQ(backward.anchor, 20);
  EXPECT_EQ(backward.matched, 2);
  for (const AlignedPlan* a : {&forward, &backward})
    for (size_t i = 0; i < 2; ++i) EXPECT_LT(apart(a->scene, i, truth, i, a->anchor), 1.5) << a->anchor << " " << i;
  EXPECT_GT(apart(plan, 0, truth, 0, 20), 20.0);  // (before alignment it was far off)
  // Join: both ends given; pinned to the first clip's end.
  EXPECT_EQ(align_plan(plan, {{0, frames[0]}, {1, frames[1]}, {22, frames[22]}, {23, frames[23]}}).anchor, 1);
}

TEST(AlignPlan, RefusesFramesOutsideThePlanOrOfAnotherSize) {
  const Scene plan = scene_of({object(Shape::circle, Color::red, Size::medium, 0.5, 0.5)});
  const Image frame = render(plan)[0];
  EXPECT_THROW(align_plan(plan, {}), Error);
  EXPECT_THROW(align_plan(plan, {{24, frame}}), Error);
  EXPECT_THROW(align_plan(plan, {{-1, frame}}), Error);
  Image small = frame;
  small.width = 64, small.rgb.resize(size_t(64 * 128 * 3));
  EXPECT_THROW(align_plan(plan, {{0, small}}), Error);
  Image torn = frame;
  torn.rgb.resize(10);
  EXPECT_THROW(align_plan(plan, {{0, torn}}), Error);
}
