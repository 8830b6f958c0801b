// The flow-loss weight of a world clip's latent positions (world::object_loss_weight): objects
// cover a tenth of a frame and their shapes a few latent positions at their edges, so under a
// plain mean square the background decides most of the gradient. The world knows exactly where
// its objects are: the pixels that change when the objects are drawn.
#include <algorithm>
#include <cstdlib>

#include "kinema/error.hpp"
#include "kinema/world_latents.hpp"
#include "world/internal.hpp"

namespace kinema::world {
namespace {

// Share of a position's pixels from which it counts as wholly covered.
constexpr double kFullCoverage = 0.25;

}  // namespace

void check_latent_grid(const WorldClipPick& p, int64_t spatial, int64_t temporal, const char* who) {
  check(spatial >= 1 && temporal >= 1, who, "compression must be >= 1; got ", spatial, " and ", temporal);
  check(p.crop_w % spatial == 0 && p.crop_h % spatial == 0 && (p.frames - 1) % temporal == 0, who, "a ",
        p.crop_w, "x", p.crop_h, "x", p.frames, " clip does not divide into ", spatial, "x", spatial, "x",
        temporal, " latent positions");
  check(p.crop_x >= 0 && p.crop_y >= 0 && p.crop_x + p.crop_w <= p.scene.width &&
            p.crop_y + p.crop_h <= p.scene.height && p.first_frame >= 0 &&
            p.first_frame + p.frames <= p.scene.frames,
        who, "the crop or frame window lies outside the ", p.scene.width, "x", p.scene.height, "x",
        p.scene.frames, " scene");
}

Tensor object_coverage(const WorldClipPick& p, int64_t spatial, int64_t temporal) {
  check_latent_grid(p, spatial, temporal, "object_coverage");
  const std::vector<FrameState> states = simulate(p.scene);
  Scene bare = p.scene;
  bare.objects.clear();
  FrameState bare_state;
  const int64_t T = 1 + (p.frames - 1) / temporal, H = p.crop_h / spatial, W = p.crop_w / spatial;
  std::vector<double> cover(size_t(T * H * W), 0.0);
  std::vector<int> frames_in(size_t(T), 0);
  Image drawn, empty;
  for (int f = 0; f < p.frames; ++f) {
    const FrameState& st = states[size_t(p.first_frame + f)];
    bare_state.camera = st.camera;
    render_frame(p.scene, st, drawn);
    render_frame(bare, bare_state, empty);
    const int64_t t = causal_latent_frame(f, temporal);
    ++frames_in[size_t(t)];
    for (int y = 0; y < p.crop_h; ++y)
      for (int x = 0; x < p.crop_w; ++x) {
        const size_t at = (size_t(p.crop_y + y) * size_t(drawn.width) + size_t(p.crop_x + x)) * 3;
        if (shows_object(drawn, empty, at)) cover[size_t((t * H + y / spatial) * W + x / spatial)] += 1;
      }
  }
  std::vector<float> c(cover.size());
  for (size_t i = 0; i < c.size(); ++i) {
    const double pixels = double(frames_in[i / size_t(H * W)] * spatial * spatial);
    c[i] = float(std::min(1.0, cover[i] / pixels / kFullCoverage));
  }
  return Tensor::from_vector(c, {T, H, W});
}

Tensor object_loss_weight(const WorldClipPick& p, int64_t spatial, int64_t temporal, float weight) {
  check(weight >= 0, "object_loss_weight", "the object weight must be >= 0; got ", weight);
  const Tensor c = object_coverage(p, spatial, temporal);
  std::vector<float> w = c.to_vector();
  double total = 0;
  for (float& v : w) total += v = 1 + weight * v;
  for (float& v : w) v = float(v * double(w.size()) / total);  // mean 1: the loss keeps its scale
  return Tensor::from_vector(w, c.shape());
}

}  // namespace kinema::world
