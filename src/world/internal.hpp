// Internal helpers shared by the world's sources: a portable seeded RNG and small geometry.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <string>
#include <vector>

#include "kinema/world.hpp"
#include "kinema/world_video.hpp"

namespace kinema::world {

inline constexpr double kPi = 3.14159265358979323846;
// The most objects a scene may hold (validate).
inline constexpr size_t kMaxObjects = 16;

// SplitMix64-seeded xoshiro256**. Distributions are implemented here (not std::) so that a
// (scene, seed) pair gives the same clip on every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix(seed);
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3];
    s_[2] ^= t; s_[3] = rotl(s_[3], 45);
    return r;
  }
  double uniform() { return (next() >> 11) * 0x1.0p-53; }               // [0, 1)
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  int below(int n) { return int((next() >> 33) % uint64_t(n)); }        // [0, n)
  bool chance(double p) { return uniform() < p; }
  template <typename T> const T& pick(const std::vector<T>& v) { return v[below(int(v.size()))]; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t s_[4];
};

inline uint64_t mix_seed(uint64_t a, uint64_t b) { return a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull + (a << 6) + (a >> 2)); }

// Screen unit vector of a compass direction (y grows downwards, so "up" is -y).
inline void dir_vector(Dir d, double& dx, double& dy) {
  const double a = int(d) * kPi / 4;
  dx = std::cos(a);
  dy = -std::sin(a);
}

// Number of frames' time, in seconds.
inline double frame_time(const Scene& s, int f) { return double(f) / s.fps; }
inline double aspect(const Scene& s) { return double(s.width) / s.height; }

// Latent maps of a picked clip (object_weight.cpp, shape_shares.cpp). Throws Error (naming
// who) unless the pick's crop and frame window lie in its scene and divide into spatial x
// spatial x temporal latent positions (frame 0 alone).
void check_latent_grid(const WorldClipPick& pick, int64_t spatial, int64_t temporal, const char* who);
// The latent frame a clip frame falls in under causal temporal compression: frame 0 alone,
// then groups of `temporal`.
inline int64_t causal_latent_frame(int64_t frame, int64_t temporal) {
  return frame == 0 ? 0 : (frame - 1) / temporal + 1;
}
// The objects' indices in render_frame's drawing order: by layer, then by index; the last drawn
// is on top.
inline std::vector<size_t> drawing_order(const Scene& s) {
  std::vector<size_t> order(s.objects.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return s.objects[a].layer < s.objects[b].layer; });
  return order;
}
// Whether the pixel at byte offset `at` shows an object: some channel differs from the bare
// background's by more than 24 (anti-aliased edges below it count as background).
inline bool shows_object(const Image& drawn, const Image& bare, size_t at) {
  int d = 0;
  for (int c = 0; c < 3; ++c) d = std::max(d, std::abs(int(drawn.rgb[at + c]) - int(bare.rgb[at + c])));
  return d > 24;
}

// The unit-radius path of a shape centred at the origin, appended to a Cairo context's path (the
// caller scales and rotates; a ring is filled even-odd). render.cpp draws it; inside_shape reads it.
void shape_path(struct _cairo* cr, Shape sh);
// Whether the point (u, v), in a shape's own unturned frame in radii, lies inside the path
// shape_path fills (a ring's hole is outside).
bool inside_shape(Shape sh, double u, double v);

// Lowercase words of a text (letters, digits, apostrophes kept; everything else splits).
std::vector<std::string> words_of(const std::string& text);

}  // namespace kinema::world

namespace kinema::world {

// "Redmean" weighted RGB distance: cheap and close enough to perceptual for saturated colours.
inline double color_dist(const uint8_t* a, const uint8_t* b) {
  const double rm = (a[0] + b[0]) * 0.5, dr = a[0] - b[0], dg = a[1] - b[1], db = a[2] - b[2];
  return std::sqrt((2 + rm / 256) * dr * dr + 4 * dg * dg + (2 + (255 - rm) / 256) * db * db);
}

// True when an object of colour c stays distinguishable everywhere on the scene's background.
bool color_fits_background(const Scene& s, Color c);

// Time of the last frame, seconds.
inline double clip_seconds(const Scene& s) { return double(s.frames) / s.fps; }

}  // namespace kinema::world
