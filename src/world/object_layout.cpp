// The layout map a grounded DiT is given (world::object_layout; DiTConfig::layout_channels): what
// each latent position should show, from the plan alone (the objects' places, sizes, colours,
// shapes and turns over time), never from rendered pixels, so generation can give the same map
// from an expanded prompt's scene as training gives from a clip's.
#include <algorithm>
#include <cmath>

#include "kinema/error.hpp"
#include "kinema/world_latents.hpp"
#include "world/internal.hpp"

namespace kinema::world {
namespace {

// An object's extent: the disc its unit-radius shape path fits in (a little slack for the
// heart's and star's outer points), in radii.
constexpr double kExtent = 1.05;

// Adds one frame's pixels into the sums of latent frame t: for each crop pixel, the top object
// whose extent holds the pixel centre; with silhouettes (channels > kLayoutChannels), also
// whether any object's outline holds it, into the cell of the position's 4 x 4 grid it is in.
void add_frame(const WorldClipPick& p, const FrameState& st, const std::vector<size_t>& order, int64_t spatial,
               int64_t t, int64_t H, int64_t W, int64_t channels, std::vector<double>& sum) {
  const Scene& s = p.scene;
  // Each object's colour, turn and bite (render.cpp's: a half-radius disc at the edge) in this frame.
  struct Look {
    double r, g, b, cos, sin, bite_u, bite_v;
    // An offset in radii, in the object's own unturned frame.
    void unturn(double dx, double dy, double& u, double& v) const { u = cos * dx + sin * dy, v = -sin * dx + cos * dy; }
  };
  std::vector<Look> look(st.objects.size());
  for (size_t i = 0; i < look.size(); ++i) {
    const ObjectState& o = st.objects[i];
    uint8_t rgb[3];
    color_rgb(o.color, rgb);
    look[i] = {rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0, std::cos(o.angle), std::sin(o.angle),
               std::cos(o.bite_angle), std::sin(o.bite_angle)};
  }
  // Whether some visible object's own outline (not its extent) holds the world point.
  auto on_silhouette = [&](double wx, double wy) {
    for (size_t i = 0; i < st.objects.size(); ++i) {
      const ObjectState& o = st.objects[i];
      if (!o.visible || o.radius <= 0) continue;
      double u, v;
      look[i].unturn((wx - o.x) / o.radius, (wy - o.y) / o.radius, u, v);
      const double bu = u - look[i].bite_u, bv = v - look[i].bite_v;
      if (inside_shape(s.objects[i].shape, u, v) && !(o.bitten && bu * bu + bv * bv < 0.25)) return true;
    }
    return false;
  };
  const double scale = st.camera.zoom * s.height;  // pixels per world unit (render.cpp's View)
  const int64_t volume = int64_t(sum.size()) / channels;  // T * H * W: one channel's plane
  const int64_t cell = spatial / kSilhouetteGrid;           // pixels per silhouette cell side
  for (int y = 0; y < p.crop_h; ++y)
    for (int x = 0; x < p.crop_w; ++x) {
      const double wx = (p.crop_x + x + 0.5 - s.width / 2.0) / scale + st.camera.cx;
      const double wy = (p.crop_y + y + 0.5 - s.height / 2.0) / scale + st.camera.cy;
      const int64_t at = (t * H + y / spatial) * W + x / spatial;
      if (channels > kLayoutChannels && on_silhouette(wx, wy)) {
        const int64_t k = kLayoutChannels + (y % spatial) / cell * kSilhouetteGrid + (x % spatial) / cell;
        sum[size_t(k * volume + at)] += kSilhouetteGrid * kSilhouetteGrid;  // a cell's share, not the position's
      }
      for (auto it = order.rbegin(); it != order.rend(); ++it) {
        const ObjectState& o = st.objects[*it];
        if (!o.visible || o.radius <= 0) continue;
        const double dx = (wx - o.x) / o.radius, dy = (wy - o.y) / o.radius;
        if (dx * dx + dy * dy > kExtent * kExtent) continue;
        const Look& l = look[*it];
        double u, w;  // the place, unturned
        l.unturn(dx, dy, u, w);
        const double v[kLayoutChannels] = {1, l.r, l.g, l.b, 0, 0, 0, 0, 0, 0, 0, 0, u, w};
        double* out = sum.data() + at;
        for (int64_t k = 0; k < kLayoutChannels; ++k) out[k * volume] += v[k];
        out[(4 + int64_t(s.objects[*it].shape)) * volume] += 1;
        break;
      }
    }
}

}  // namespace

Tensor object_layout(const WorldClipPick& p, int64_t spatial, int64_t temporal, int64_t channels) {
  static_assert(kLayoutChannels == 6 + kShapeCount, "layout channels: share, RGB, shapes, x, y");
  static_assert(kSilhouetteLayoutChannels == kLayoutChannels + kSilhouetteGrid * kSilhouetteGrid);
  check(channels == kLayoutChannels || channels == kSilhouetteLayoutChannels, "object_layout",
        "a layout has ", kLayoutChannels, " channels, or ", kSilhouetteLayoutChannels, " with silhouettes; got ",
        channels);
  check(channels == kLayoutChannels || spatial % kSilhouetteGrid == 0, "object_layout",
        "silhouettes cut each latent position into ", kSilhouetteGrid, " x ", kSilhouetteGrid,
        " cells; a spatial stride of ", spatial, " does not divide");
  check_latent_grid(p, spatial, temporal, "object_layout");
  const std::vector<FrameState> states = simulate(p.scene);
  const std::vector<size_t> order = drawing_order(p.scene);
  const int64_t T = 1 + (p.frames - 1) / temporal, H = p.crop_h / spatial, W = p.crop_w / spatial;
  std::vector<double> sum(size_t(channels * T * H * W), 0.0);  // [K, T, H, W]
  std::vector<int> frames_in(size_t(T), 0);
  for (int f = 0; f < p.frames; ++f) {
    const int64_t t = causal_latent_frame(f, temporal);
    ++frames_in[size_t(t)];
    add_frame(p, states[size_t(p.first_frame + f)], order, spatial, t, H, W, channels, sum);
  }
  std::vector<float> out(sum.size());
  const int64_t plane = H * W, volume = T * plane;
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t t = (int64_t(i) % volume) / plane;
    out[i] = float(sum[i] / double(frames_in[size_t(t)] * spatial * spatial));
  }
  return Tensor::from_vector(out, {channels, T, H, W});
}

Tensor scene_layout(const Scene& scene, int64_t spatial, int64_t temporal, int64_t channels) {
  WorldClipPick p;
  p.scene = scene;
  p.first_frame = 0, p.frames = scene.frames;
  p.crop_w = scene.width, p.crop_h = scene.height;
  return object_layout(p, spatial, temporal, channels);
}

}  // namespace kinema::world
