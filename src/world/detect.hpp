// The judge's eyes: colour segmentation against a per-row background model, connected
// components, and shape classification from each component's radial contour profile.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "kinema/world.hpp"

namespace kinema::world {

struct Detection {
  Color color = Color::red;
  Shape shape = Shape::circle;
  double cx = 0, cy = 0;   // centroid, pixels
  double area = 0;         // pixels
  double angle = 0;        // orientation from the best template rotation, radians
  double fit = 0;          // template distance (lower is better)
  // Orientation modulo 2*pi/k from the outline's k-fold harmonic (k = 2..6: the symmetry
  // orders of the world's shapes), and that harmonic's strength (relative to the mean radius).
  // Sub-bin and averaged over the whole outline, so it follows a turning hexagon through
  // compression noise that moves the best template rotation by whole bins, and it exists
  // when the shape itself is misread (a small hexagon as a circle) while the outline still
  // shows its k corners.
  double harmonic_angle[7] = {0, 0, 0, 0, 0, 0, 0};
  double harmonic_strength[7] = {0, 0, 0, 0, 0, 0, 0};
  // Mean RGB of the interior pixels (edges are blurred into the background), for colour drift.
  double rgb[3] = {0, 0, 0};
};

std::vector<Detection> detect(const Image& frame);

// Background model: the per-channel median of each row (all backgrounds are functions of y).
std::vector<std::array<uint8_t, 3>> row_background(const Image& f);

// Rotational symmetry order of a shape's outline (circle and ring: 0 = any angle).
int symmetry_order(Shape s);

}  // namespace kinema::world
