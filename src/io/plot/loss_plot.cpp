// The loss plot: parse the CSV, then draw axes, the raw curve and its moving average.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include <cairo.h>

#include "kinema/error.hpp"
#include "kinema/plot.hpp"

namespace kinema {
namespace {

struct Point { double step, loss; };

std::vector<Point> read_losses(const std::string& path) {
  std::ifstream f(path);
  check(f.good(), "loss plot", "cannot read ", path);
  std::vector<Point> out;
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (n == 1 && line.rfind("step", 0) == 0) continue;  // the header
    double step = 0, loss = 0;
    check(std::sscanf(line.c_str(), "%lf,%lf", &step, &loss) == 2, "loss plot", path, " line ", n,
          ": expected step,loss,...; got '", line.substr(0, 60), "'");
    if (std::isfinite(loss) && loss > 0) out.push_back({step, loss});
  }
  check(!out.empty(), "loss plot", path, " holds no positive, finite losses");
  return out;
}

}  // namespace

void write_loss_plot(const std::string& csv_path, const std::string& png_path, int width, int height) {
  check(width >= 200 && height >= 120 && width <= 8000 && height <= 8000, "loss plot", "size ", width, "x",
        height, " out of range");
  const std::vector<Point> p = read_losses(csv_path);
  double lo = p[0].loss, hi = p[0].loss;
  for (const Point& q : p) lo = std::min(lo, q.loss), hi = std::max(hi, q.loss);
  const double l0 = std::log10(lo) - 0.05, l1 = std::log10(hi) + 0.05;
  const double s0 = p.front().step, s1 = std::max(p.back().step, s0 + 1);
  const double left = 60, right = width - 20, top = 20, bottom = height - 40;
  auto X = [&](double s) { return left + (s - s0) / (s1 - s0) * (right - left); };
  auto Y = [&](double l) { return bottom - (std::log10(l) - l0) / (l1 - l0) * (bottom - top); };

  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_line_width(cr, 1);
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_rectangle(cr, left, top, right - left, bottom - top);
  cairo_stroke(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 11);
  char label[64];
  for (int d = int(std::floor(l0)); d <= int(std::ceil(l1)); ++d)
    for (int m : {1, 2, 5}) {
      const double v = m * std::pow(10.0, d);
      if (std::log10(v) < l0 || std::log10(v) > l1) continue;
      std::snprintf(label, sizeof label, "%g", v);
      cairo_move_to(cr, 8, Y(v) + 4);
      cairo_show_text(cr, label);
    }
  std::snprintf(label, sizeof label, "step %.0f", s0);
  cairo_move_to(cr, left, height - 15);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "step %.0f   (loss, log scale; dark: moving average)", s1);
  cairo_move_to(cr, right - 300, height - 15);
  cairo_show_text(cr, label);
  cairo_set_source_rgb(cr, 0.65, 0.78, 0.95);  // raw loss
  for (size_t i = 0; i < p.size(); ++i)
    (i ? cairo_line_to : cairo_move_to)(cr, X(p[i].step), Y(p[i].loss));
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0.05, 0.25, 0.6);  // moving average over ~1/50 of the run
  cairo_set_line_width(cr, 2);
  const double a = 1.0 / std::max(1.0, double(p.size()) / 50.0);
  double ema = p[0].loss;
  for (size_t i = 0; i < p.size(); ++i) {
    ema = i ? (1 - a) * ema + a * p[i].loss : ema;
    (i ? cairo_line_to : cairo_move_to)(cr, X(p[i].step), Y(ema));
  }
  cairo_stroke(cr);
  cairo_destroy(cr);
  const cairo_status_t st = cairo_surface_write_to_png(surface, png_path.c_str());
  cairo_surface_destroy(surface);
  check(st == CAIRO_STATUS_SUCCESS, "loss plot", "cannot write ", png_path, ": ", cairo_status_to_string(st));
}

}  // namespace kinema
