// Point-in-shape tests against the very outline the renderer fills (shape_path), flattened once
// per shape by Cairo, so the layout's silhouettes (object_layout) and the pixels agree without
// rendering a frame.
#include <cairo.h>

#include <array>
#include <utility>
#include <vector>

#include "kinema/error.hpp"
#include "world/internal.hpp"

namespace kinema::world {
namespace {

using Ring = std::vector<std::pair<double, double>>;

// The shape's path as closed polylines (a ring has two: the disc and its hole).
std::vector<Ring> flatten(Shape sh) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
  cairo_t* cr = cairo_create(surface);
  cairo_set_tolerance(cr, 1e-4);  // in radii: far below a pixel at any object size the world draws
  shape_path(cr, sh);
  cairo_path_t* path = cairo_copy_path_flat(cr);
  const bool ok = path->status == CAIRO_STATUS_SUCCESS;
  std::vector<Ring> rings;
  for (int i = 0; ok && i < path->num_data; i += path->data[i].header.length) {
    const cairo_path_data_t& d = path->data[i];
    if (d.header.type == CAIRO_PATH_MOVE_TO) rings.emplace_back();
    if ((d.header.type == CAIRO_PATH_MOVE_TO || d.header.type == CAIRO_PATH_LINE_TO) && !rings.empty())
      rings.back().emplace_back(path->data[i + 1].point.x, path->data[i + 1].point.y);
  }
  cairo_path_destroy(path);
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  check(ok && !rings.empty(), "world.inside_shape", "Cairo could not flatten shape ", int(sh));
  return rings;
}

}  // namespace

bool inside_shape(Shape sh, double u, double v) {
  static const std::array<std::vector<Ring>, kShapeCount> outlines = [] {
    std::array<std::vector<Ring>, kShapeCount> o;
    for (int s = 0; s < kShapeCount; ++s) o[size_t(s)] = flatten(Shape(s));
    return o;
  }();
  if (u * u + v * v > 1.3 * 1.3) return false;  // every outline fits radius 1.15
  bool inside = false;  // even-odd crossings of a ray towards +u
  for (const Ring& r : outlines[size_t(sh)])
    for (size_t i = 0, j = r.size() - 1; i < r.size(); j = i++) {
      const auto [ui, vi] = r[i];
      const auto [uj, vj] = r[j];
      if ((vi > v) != (vj > v) && u < ui + (v - vi) * (uj - ui) / (vj - vi)) inside = !inside;
    }
  return inside;
}

}  // namespace kinema::world
