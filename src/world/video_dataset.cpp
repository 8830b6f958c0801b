// World clips for VAE training: index -> scene, frame window and crop, all from one seeded RNG.
#include <algorithm>

#include "kinema/error.hpp"
#include "kinema/world_video.hpp"
#include "world/internal.hpp"

namespace kinema::world {

namespace {
// The first draws of an index's stream: render size and image-or-clip.
WorldClipShape draw_shape(const WorldVideoOptions& o, Rng& rng) {
  check(o.frames >= 1 && !o.sizes.empty() && o.crop >= 0 && o.extra_frames >= 0,
        "WorldVideoDataset", "frames must be >= 1, extra_frames >= 0 and sizes non-empty");
  const auto [w, h] = o.sizes[size_t(rng.below(int(o.sizes.size())))];
  const bool image = rng.uniform(0, 1) < o.image_fraction;
  return {w, h, image ? 1 : o.frames, image};
}
}  // namespace

WorldClipShape world_clip_shape(const WorldVideoOptions& o, int64_t index) {
  Rng rng(mix_seed(o.seed, uint64_t(index)));
  return draw_shape(o, rng);
}

bool world_clip_focus(const WorldVideoOptions& o, int64_t index) {
  check(o.focus_fraction >= 0 && o.focus_fraction <= 1, "WorldVideoDataset", "focus_fraction must be in [0, 1]; got ",
        o.focus_fraction);
  return o.focus_fraction > 0 && Rng(mix_seed(o.seed ^ 0x666f637573ull, uint64_t(index))).chance(o.focus_fraction);
}

WorldClipPick pick_world_clip(const WorldVideoOptions& o, int64_t index) {
  Rng rng(mix_seed(o.seed, uint64_t(index)));
  WorldClipPick p;
  const auto [w, h, frames, image] = draw_shape(o, rng);
  p.frames = frames;
  SampleOptions so{w, h, o.fps, image ? 1 : o.frames + o.extra_frames};  // room to start the window later
  so.single_large = world_clip_focus(o, index);
  // Held-out combinations never reach training: draw again from the same stream.
  for (int tries = 0;; ++tries) {
    p.scene = sample_scene(rng.next(), so);
    if (!is_held_out(p.scene)) break;
    check(tries < 1000, "WorldVideoDataset", "could not draw a scene outside the held-out set");
  }
  p.first_frame = image ? 0 : rng.below(p.scene.frames - p.frames + 1);
  p.crop_w = o.crop > 0 ? std::min(o.crop, w) : w;
  p.crop_h = o.crop > 0 ? std::min(o.crop, h) : h;
  p.crop_x = rng.below(w - p.crop_w + 1);
  p.crop_y = rng.below(h - p.crop_h + 1);
  return p;
}

std::vector<Image> render_window(const Scene& scene, int first, int count) {
  check(first >= 0 && count >= 1 && first + count <= scene.frames, "render_window", "frames [",
        first, ", ", first + count, ") outside a clip of ", scene.frames);
  const std::vector<FrameState> states = simulate(scene);
  std::vector<Image> out(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) render_frame(scene, states[size_t(first + i)], out[size_t(i)]);
  return out;
}

Tensor frames_to_tensor(const std::vector<Image>& frames, int x, int y, int w, int h) {
  const int64_t T = int64_t(frames.size());
  std::vector<float> v(size_t(3 * T * h * w));
  for (int64_t t = 0; t < T; ++t) {
    const Image& im = frames[size_t(t)];
    check(x >= 0 && y >= 0 && x + w <= im.width && y + h <= im.height, "frames_to_tensor",
          "crop outside the frame");
    for (int r = 0; r < h; ++r)
      for (int c = 0; c < w; ++c)
        for (int ch = 0; ch < 3; ++ch)
          v[size_t(((ch * T + t) * h + r) * w + c)] =
              float(im.rgb[size_t(((y + r) * im.width + (x + c)) * 3 + ch)]) / 127.5f - 1.f;
  }
  return Tensor::from_vector(v, {3, T, h, w});
}

WorldVideoDataset::WorldVideoDataset(const WorldVideoOptions& options) : options_(options) {
  check(options.count > 0, "WorldVideoDataset", "count must be positive");
  pick_world_clip(options_, 0);  // validates the options
}

Tensor WorldVideoDataset::get(int64_t index) const {
  check(index >= 0 && index < options_.count, "WorldVideoDataset", "index ", index, " outside [0, ",
        options_.count, ")");
  WorldClipPick p = pick_world_clip(options_, index);
  return frames_to_tensor(render_window(p.scene, p.first_frame, p.frames), p.crop_x, p.crop_y,
                          p.crop_w, p.crop_h);
}

}  // namespace kinema::world
