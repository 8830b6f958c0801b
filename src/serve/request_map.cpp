#include "serve/request_map.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "serve/api_error.hpp"

namespace kinema::serve {

std::pair<int, int> map_size(const ModelInfo& model, const std::string& requested) {
  int w = 0, h = 0;
  char x = 0, extra = 0;
  if (std::sscanf(requested.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || x != 'x' || w <= 0 || h <= 0 ||
      w > 16384 || h > 16384)
    throw bad_request("size", "size must be WIDTHxHEIGHT, e.g. 1280x720; got '" + requested + "'");
  if (model.sizes.empty()) return {w, h};
  // Nearest aspect ratio on a log scale (2:1 and 1:2 are equally far from 1:1).
  const double want = std::log(double(w) / h);
  std::pair<int, int> best = model.sizes[0];
  double best_d = 1e9;
  for (const auto& s : model.sizes) {
    const double d = std::abs(std::log(double(s.first) / s.second) - want);
    const bool larger = int64_t(s.first) * s.second > int64_t(best.first) * best.second;
    if (d < best_d - 1e-9 || (std::abs(d - best_d) <= 1e-9 && larger)) best = s, best_d = d;
  }
  return best;
}

int map_frames(const ModelInfo& model, const std::string& seconds) {
  char* end = nullptr;
  const double s = std::strtod(seconds.c_str(), &end);
  if (seconds.empty() || end == seconds.c_str() || *end != 0 || !std::isfinite(s) || s <= 0)
    throw bad_request("seconds", "seconds must be a positive number such as 4; got '" + seconds + "'");
  // 1 + 4k frames: the VAE compresses time by 4 after the first frame.
  const double k = std::round(std::min(s, 1e6) * model.fps / 4.0);
  const int max_k = std::max(1, (model.max_frames - 1) / 4);
  return 1 + 4 * std::clamp(int(k), 1, max_k);
}

std::string seconds_string(int frames, int fps) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", double(frames) / std::max(1, fps));
  std::string t = buf;
  while (t.back() == '0') t.pop_back();
  if (t.back() == '.') t.pop_back();
  return t;
}

}  // namespace kinema::serve
