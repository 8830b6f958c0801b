// The layout's silhouette channels (object_layout with kSilhouetteLayoutChannels) against the
// independent oracle: Cairo's own rasterisation of the same scene, cell by cell.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "kinema/error.hpp"
#include "kinema/world_latents.hpp"

namespace kinema::world {
namespace {

constexpr int kSide = 64, kSpatial = 8, kCell = kSpatial / int(kSilhouetteGrid);

Scene one_frame(std::vector<Object> objects) {
  Scene s;
  s.width = s.height = kSide, s.frames = 1;
  s.objects = std::move(objects);
  return s;
}

Object object(world::Shape shape, double x, double y, double angle = 0) {
  Object o;
  o.shape = shape, o.size = Size::large, o.x = x, o.y = y, o.angle = angle, o.color = Color::red;
  return o;
}

// The share of each 2 x 2-pixel cell the rendered objects cover, in the layout's channel order:
// each pixel's anti-aliased coverage read back from its colour (red objects over the bare
// background, on the channel where the two differ most).
std::vector<double> rendered_cells(const Scene& s) {
  Scene bare = s;
  bare.objects.clear();
  const Image drawn = render(s)[0], empty = render(bare)[0];
  uint8_t red[3];
  color_rgb(Color::red, red);
  const int L = kSide / kSpatial;
  std::vector<double> cells(size_t(kSilhouetteGrid * kSilhouetteGrid * L * L), 0.0);
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const size_t at = size_t(y * kSide + x) * 3;
      int c = 0;
      for (int k = 1; k < 3; ++k)
        if (std::abs(red[k] - empty.rgb[at + size_t(k)]) > std::abs(red[c] - empty.rgb[at + size_t(c)])) c = k;
      const double alpha = double(drawn.rgb[at + size_t(c)] - empty.rgb[at + size_t(c)]) / (red[c] - empty.rgb[at + size_t(c)]);
      const int k = (y % kSpatial) / kCell * int(kSilhouetteGrid) + (x % kSpatial) / kCell;
      cells[size_t((k * L + y / kSpatial) * L + x / kSpatial)] += std::clamp(alpha, 0.0, 1.0) / (kCell * kCell);
    }
  return cells;
}

std::vector<double> silhouette_cells(const Scene& s) {
  const std::vector<float> v = scene_layout(s, kSpatial, 4, kSilhouetteLayoutChannels).to_vector();
  const size_t plane = size_t((kSide / kSpatial) * (kSide / kSpatial));
  return std::vector<double>(v.begin() + long(kLayoutChannels * plane), v.end());
}

// How much two cell maps disagree, as a share of what either covers (0: the same, 1: disjoint).
double disagreement(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, either = 0;
  for (size_t i = 0; i < a.size(); ++i) diff += std::abs(a[i] - b[i]), either += std::max(a[i], b[i]);
  return diff / either;
}

TEST(Silhouettes, EveryShapeTurnedOrNotCoversTheCellsCairoFills) {
  for (int sh = 0; sh < kShapeCount; ++sh)
    for (double angle : {0.0, 0.7}) {
      const Scene s = one_frame({object(world::Shape(sh), 0.35, 0.45, angle), object(world::Shape(sh), 0.7, 0.6)});
      const std::vector<double> drawn = rendered_cells(s), told = silhouette_cells(s);
      double covered = 0;
      for (double c : drawn) covered += c;
      ASSERT_GT(covered, 20) << shape_name(world::Shape(sh));
      // The same area (within 2%), placed alike but for edge pixels: the layout samples each
      // pixel's centre where Cairo covers a share of it (3-7% here; the disc in place of the
      // outline is 15-49% off for every shape but the circle).
      double area = 0, drawn_area = 0;
      for (size_t i = 0; i < told.size(); ++i) area += told[i], drawn_area += drawn[i];
      EXPECT_NEAR(area, drawn_area, 0.02 * drawn_area) << shape_name(world::Shape(sh)) << " at " << angle;
      EXPECT_LT(disagreement(drawn, told), 0.08) << shape_name(world::Shape(sh)) << " at " << angle;
      size_t whole = 0;
      for (size_t i = 0; i < told.size(); ++i)
        if (told[i] == 1.0) {
          ++whole;
          EXPECT_GE(drawn[i], 0.5) << shape_name(world::Shape(sh)) << " cell " << i;
        }
      EXPECT_GT(whole, 10u);
    }
}

TEST(Silhouettes, TellShapesApartWhereTheDiscDoesNot) {
  const Scene circle = one_frame({object(world::Shape::circle, 0.5, 0.5)});
  const Scene square = one_frame({object(world::Shape::square, 0.5, 0.5)});
  const Scene ring = one_frame({object(world::Shape::ring, 0.5, 0.5)});
  // The extent channels (0-13) but the shape one-hot read the same for both; the silhouettes differ
  // as much as the drawn pixels do.
  const std::vector<float> a = scene_layout(circle, kSpatial, 4, kSilhouetteLayoutChannels).to_vector();
  const std::vector<float> b = scene_layout(square, kSpatial, 4, kSilhouetteLayoutChannels).to_vector();
  const size_t plane = 64;
  for (size_t i = 0; i < 4 * plane; ++i) EXPECT_EQ(a[i], b[i]) << i;
  const double told = disagreement(silhouette_cells(circle), silhouette_cells(square));
  const double drawn = disagreement(rendered_cells(circle), rendered_cells(square));
  EXPECT_GT(told, 0.2);
  EXPECT_NEAR(told, drawn, 0.05);
  // The ring's hole is empty: the centre cells of the centre position hold nothing.
  const std::vector<double> r = silhouette_cells(ring);
  const size_t centre = 4 * 8 + 4;  // position (4, 4); its cell (0, 0) touches the scene centre
  EXPECT_EQ(r[0 * plane + centre], 0.0);
  EXPECT_GT(silhouette_cells(circle)[0 * plane + centre], 0.99);
}

TEST(Silhouettes, ExtendTheLayoutWithoutChangingItsFirstChannels) {
  Object mover = object(world::Shape::star, 0.3, 0.5, 0.4);
  mover.behavior = Behavior::rotate;
  Scene s = one_frame({mover});
  s.frames = 9;
  const Tensor plain = scene_layout(s, kSpatial, 4), outlined = scene_layout(s, kSpatial, 4, kSilhouetteLayoutChannels);
  ASSERT_EQ(outlined.shape(), (kinema::Shape{kSilhouetteLayoutChannels, 3, 8, 8}));
  const std::vector<float> p = plain.to_vector(), o = outlined.to_vector();
  EXPECT_TRUE(std::equal(p.begin(), p.end(), o.begin()));
  EXPECT_THROW(scene_layout(s, kSpatial, 4, 20), Error);  // neither 14 nor 30
  EXPECT_THROW(scene_layout(s, 2, 4, kSilhouetteLayoutChannels), Error);  // a stride of 2 has no 4 x 4 cells
}

}  // namespace
}  // namespace kinema::world
