// What each latent position of a world clip shows, by shape (world::shape_shares): the targets
// of the DiT's shape-label loss (`kinema train dit --shape-labels`). The world knows exactly
// which object covers each pixel, so the DiT can be told, at every noise level, which shape
// its tokens belong to, and learn to carry the caption's shape word to the right places long
// before it has learnt to draw the outline (docs/train.md, "Shape labels").
#include <algorithm>

#include "kinema/error.hpp"
#include "kinema/world_latents.hpp"
#include "world/internal.hpp"

namespace kinema::world {
Tensor shape_shares(const WorldClipPick& p, int64_t spatial, int64_t temporal) {
  check_latent_grid(p, spatial, temporal, "shape_shares");
  const std::vector<FrameState> states = simulate(p.scene);
  Scene bare = p.scene;
  bare.objects.clear();
  const int64_t T = 1 + (p.frames - 1) / temporal, H = p.crop_h / spatial, W = p.crop_w / spatial;
  constexpr int64_t K = 1 + kShapeCount;
  const size_t n = p.scene.objects.size();
  const std::vector<size_t> order = drawing_order(p.scene);  // a pixel belongs to the last drawn
  std::vector<double> count(size_t(T * H * W * K), 0.0);
  std::vector<int> owner(size_t(p.crop_w) * size_t(p.crop_h));
  Image empty, alone;
  FrameState bare_state;
  for (int f = 0; f < p.frames; ++f) {
    const FrameState& st = states[size_t(p.first_frame + f)];
    bare_state.camera = st.camera;
    render_frame(bare, bare_state, empty);
    std::fill(owner.begin(), owner.end(), 0);  // 0: background, else 1 + shape
    for (size_t k : order) {
      FrameState only = st;
      for (size_t j = 0; j < n; ++j) only.objects[j].visible = only.objects[j].visible && j == k;
      render_frame(p.scene, only, alone);
      for (int y = 0; y < p.crop_h; ++y)
        for (int x = 0; x < p.crop_w; ++x) {
          const size_t at = (size_t(p.crop_y + y) * size_t(alone.width) + size_t(p.crop_x + x)) * 3;
          if (shows_object(alone, empty, at)) owner[size_t(y) * size_t(p.crop_w) + size_t(x)] = 1 + int(p.scene.objects[k].shape);
        }
    }
    const int64_t t = causal_latent_frame(f, temporal);
    for (int y = 0; y < p.crop_h; ++y)
      for (int x = 0; x < p.crop_w; ++x)
        count[size_t(((t * H + y / spatial) * W + x / spatial) * K + owner[size_t(y) * size_t(p.crop_w) + size_t(x)])] += 1;
  }
  std::vector<float> share(count.size());
  for (size_t i = 0; i < share.size(); i += size_t(K)) {
    double total = 0;
    for (int64_t c = 0; c < K; ++c) total += count[i + size_t(c)];
    for (int64_t c = 0; c < K; ++c) share[i + size_t(c)] = float(count[i + size_t(c)] / total);
  }
  return Tensor::from_vector(share, {T, H, W, K});
}

}  // namespace kinema::world
