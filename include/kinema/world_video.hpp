// World clips as a VAE training set: sample index -> a seeded world scene (never one of the
// held-out combinations) at one of several sizes and aspect ratios, rendered, a window of
// frames cut out and randomly cropped, as [3, T, H, W] in [-1, 1]. A pure function of
// (options, index), so training resumes exactly.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "kinema/vae_train.hpp"
#include "kinema/world.hpp"

namespace kinema::world {

struct WorldVideoOptions {
  int64_t count = 1000000;  // indices (the world is unbounded; this fixes the epoch length)
  int frames = 9;           // clip length (1 + k * temporal compression)
  int crop = 64;            // square crop side (multiple of the spatial compression); 0 = whole frame
  double image_fraction = 0.125;  // share of samples that are one-frame images
  uint64_t seed = 1;
  // Render sizes (width, height): 1:1, 5:3 and 3:5, the default model's aspect ratios.
  std::vector<std::pair<int, int>> sizes = {{128, 128}, {160, 96}, {96, 160}};
  int fps = 12;
  // Frames the scene runs beyond the clip, so the window can start later. 0: the clip is the
  // whole scene (what the scene's caption describes; the latent set uses this).
  int extra_frames = 16;
  // Share of samples that show one large object alone (SampleOptions::single_large), decided per
  // index apart from every other draw: the other indices keep their scenes.
  double focus_fraction = 0;
};

// The scene and frame window a sample index uses (exposed for tests and for the latent set).
struct WorldClipPick {
  Scene scene;
  int first_frame = 0, frames = 1;
  int crop_x = 0, crop_y = 0, crop_w = 0, crop_h = 0;
};
WorldClipPick pick_world_clip(const WorldVideoOptions& options, int64_t index);
// Whether an index is one of the focus_fraction samples.
bool world_clip_focus(const WorldVideoOptions& options, int64_t index);

// The render size and clip length pick_world_clip gives an index (its first draws, without
// sampling the scene): cheap enough to sort a whole epoch into shape buckets.
struct WorldClipShape {
  int width = 0, height = 0, frames = 1;
  bool image = false;  // a one-frame image sample (frames == 1)
};
WorldClipShape world_clip_shape(const WorldVideoOptions& options, int64_t index);

// Renders frames [first, first + count) of a scene (simulating from the start).
std::vector<Image> render_window(const Scene& scene, int first, int count);
// Frames (cropped to x, y, w, h) -> [3, T, h, w] in [-1, 1].
Tensor frames_to_tensor(const std::vector<Image>& frames, int x, int y, int w, int h);

class WorldVideoDataset final : public VideoDataset {
 public:
  explicit WorldVideoDataset(const WorldVideoOptions& options = {});
  int64_t size() const override { return options_.count; }
  Tensor get(int64_t index) const override;
  const WorldVideoOptions& options() const { return options_; }

 private:
  WorldVideoOptions options_;
};

}  // namespace kinema::world
