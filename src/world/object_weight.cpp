// The flow-loss weight of a world clip's latent positions (world::object_loss_weight): objects
// cover a tenth of a frame and their shapes a few latent positions at their edges, so under a
// plain mean square the background decides most of the gradient. The world knows exactly where
// its objects are: the pixels that change when the objects are drawn.
#include <algorithm>
#include <cstdlib>

#include "kinema/error.hpp"
#include "kinema/world_latents.hpp"

namespace kinema::world {
namespace {

// A pixel belongs to an object when some channel differs from the bare background by more than
// this (anti-aliased edges below it count as background).
constexpr int kObjectDiff = 24;

// Coverage at which a position gets the whole extra weight.
constexpr double kFullCoverage = 0.25;

}  // namespace

Tensor object_loss_weight(const WorldClipPick& p, int64_t spatial, int64_t temporal, float weight) {
  check(spatial >= 1 && temporal >= 1, "object_loss_weight", "compression must be >= 1; got ", spatial, " and ",
        temporal);
  check(weight >= 0, "object_loss_weight", "the object weight must be >= 0; got ", weight);
  check(p.crop_w % spatial == 0 && p.crop_h % spatial == 0 && (p.frames - 1) % temporal == 0,
        "object_loss_weight", "a ", p.crop_w, "x", p.crop_h, "x", p.frames, " clip does not divide into ", spatial,
        "x", spatial, "x", temporal, " latent positions");
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
    const int64_t t = f == 0 ? 0 : (f - 1) / temporal + 1;  // causal: frame 0 alone, then groups
    ++frames_in[size_t(t)];
    for (int y = 0; y < p.crop_h; ++y)
      for (int x = 0; x < p.crop_w; ++x) {
        const size_t at = (size_t(p.crop_y + y) * size_t(drawn.width) + size_t(p.crop_x + x)) * 3;
        int d = 0;
        for (int c = 0; c < 3; ++c) d = std::max(d, std::abs(int(drawn.rgb[at + c]) - int(empty.rgb[at + c])));
        if (d > kObjectDiff) cover[size_t((t * H + y / spatial) * W + x / spatial)] += 1;
      }
  }
  std::vector<float> w(cover.size());
  double total = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double pixels = double(frames_in[i / size_t(H * W)] * spatial * spatial);
    w[i] = float(1 + weight * std::min(1.0, cover[i] / pixels / kFullCoverage));
    total += w[i];
  }
  for (float& v : w) v = float(v * double(w.size()) / total);  // mean 1: the loss keeps its scale
  return Tensor::from_vector(w, {T, H, W});
}

}  // namespace kinema::world
