// The DiT's training set: world scenes -> frozen VAE -> normalised latents, with each scene's
// detailed caption run through the frozen text encoder.
//
// index -> pick_world_clip (held-out scenes never appear; the clip is the whole scene, so the
// caption describes exactly what is rendered) -> frames [3, T, H, W] in [-1, 1] ->
// VAE::encode (no grad, mu) -> VAE::normalize -> latent [z_dim, T', H', W'];
// detailed_caption(scene, seed) -> Tokenizer -> TextEncoder -> context [L, dim].
// get() is a pure function of (options, models, index).
//
// VAE encoding costs about as much as a DiT step, so mu is cached on disk, one small
// safetensors file per index under cache_dir/<key>/, where key hashes the VAE's weights and
// every data option that changes a clip (a different VAE or option set never reads stale
// latents). The cache holds raw mu, so new latents_mean/latents_std (kinema vae stats) keep it
// valid. Files are written to a temporary name and renamed; a missing, unreadable or corrupt
// entry (its checksum is stored beside it) is recomputed and rewritten, never an error.
// Text contexts are computed on the fly (a caption costs a few ms; see docs/train.md).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kinema/text_encoder.hpp"
#include "kinema/tokenizer.hpp"
#include "kinema/train.hpp"
#include "kinema/vae.hpp"
#include "kinema/world_video.hpp"

namespace kinema::world {

struct WorldLatentOptions {
  int64_t count = 100000;          // indices (fixes the epoch length)
  int frames = 25;                 // clip length: 1 + k * the VAE's temporal compression
  double image_fraction = 0.25;    // share of one-frame images (text-to-image)
  // Share of samples that show one large object alone (WorldVideoOptions::focus_fraction). Not
  // part of the cache key: those indices are cached under their own names, the others keep theirs.
  double focus_fraction = 0;
  uint64_t seed = 1;               // world seed
  std::vector<std::pair<int, int>> sizes = {{128, 128}, {160, 96}, {96, 160}};  // (w, h)
  int fps = 12;
  int64_t max_text_len = 256;      // caption tokens kept (eos included)
  std::string cache_dir;           // "" = no cache
  VaeChunking chunking = VaeChunking::whole;  // same latents either way; whole is faster
  // false: get() leaves context undefined and gives only caption_ids (a trainer that trains
  // the text encoder encodes them itself).
  bool encode_captions = true;
  // > 0: get() gives each sample a loss_weight (object_loss_weight with this weight), so the
  // positions that carry the objects' shapes count more. Not part of the cache key (mu is the same).
  float object_weight = 0;
  // true: get() gives each sample its shape_shares as token_labels (the shape-label loss).
  bool shape_labels = false;
  // > 0: get() gives each sample its object_layout with this many channels (kLayoutChannels, or
  // kSilhouetteLayoutChannels with silhouettes): the DiT's layout_channels.
  int64_t layout_channels = 0;

  // The clip options pick_world_clip sees: whole frames, no extra frames.
  WorldVideoOptions video() const;
};

// A 64-bit hash of a VAE's config and encoder weights (names, shapes, dtypes, bytes), as 16 hex
// digits: everything the cached latents depend on. The decoder (decoder.*, conv2.*) and
// latents_mean / latents_std are not part of it (the cache holds raw mu).
std::string vae_encoder_hash(const VAE& vae);

// How much of each latent position of a picked clip [T', H', W'] (spatial x spatial x temporal
// pixels each, frame 0 alone, causally) the objects cover: 1 from a quarter of its pixels up,
// in proportion below, 0 on the bare background. Object pixels are those that change when the
// objects are drawn.
Tensor object_coverage(const WorldClipPick& pick, int64_t spatial, int64_t temporal);
// The flow-loss weight of those positions: 1 + weight x coverage, scaled to mean 1.
Tensor object_loss_weight(const WorldClipPick& pick, int64_t spatial, int64_t temporal, float weight);
// What each latent position [T', H', W', 1 + kShapeCount] shows: the share of its pixels that
// are bare background (channel 0) or the shape s (channel 1 + s) of the object drawn on top;
// shares sum to 1. The targets of the DiT's shape-label loss (`train dit --shape-labels`).
Tensor shape_shares(const WorldClipPick& pick, int64_t spatial, int64_t temporal);

// The plan a grounded DiT is given (DiTConfig::layout_channels): per latent position, the object
// drawn on top there (by layer, then index; an object's extent is the disc its shape fits in),
// averaged over the position's pixels and frames: channel 0 the share covered, 1-3 its colour
// (RGB in [0, 1]), 4-11 its shape (one-hot), 12-13 the place within it (x, y in the object's own
// rotated frame, in radii), each times the share. Bare background is all zeros. [K, T', H', W'].
// With silhouettes (K = kSilhouetteLayoutChannels), 16 channels more: the position cut into a
// 4 x 4 grid of cells, the share of each cell's pixels inside some object's own outline (the
// shape the renderer fills, turned), so the outline is told, not only its disc.
inline constexpr int64_t kLayoutChannels = 14, kSilhouetteGrid = 4;
inline constexpr int64_t kSilhouetteLayoutChannels = kLayoutChannels + kSilhouetteGrid * kSilhouetteGrid;
Tensor object_layout(const WorldClipPick& pick, int64_t spatial, int64_t temporal,
                     int64_t channels = kLayoutChannels);
// The same for a whole scene at its own size and length (generation: the expanded prompt's plan).
Tensor scene_layout(const Scene& scene, int64_t spatial, int64_t temporal, int64_t channels = kLayoutChannels);

// The plan made to agree with given frames (image-to-video, extend, join, chunks): the judge's
// detector reads the given frame next to the frames to be made (the last of those given from the
// start, else the first given: `anchor`); each planned object visible there is paired with a
// detection of its colour (nearest, same shape preferred), resized to it and its start shifted so
// it is where the frame shows it at the anchor, keeping its motion; detections nothing was paired
// with join the plan as still objects (up to the world's 16). Throws Error on frames outside the
// plan or of another size.
struct AlignedPlan {
  Scene scene;
  int anchor = 0;                // the frame read
  int matched = 0, added = 0;    // planned objects moved onto a detection; detections added
};
AlignedPlan align_plan(const Scene& plan, const std::vector<std::pair<int, Image>>& given);

class WorldLatentDataset final : public LatentDataset {
 public:
  // vae, encoder and tokenizer must outlive the dataset. Throws Error when the VAE's
  // compression does not divide the clip sizes or the encoder's vocabulary is smaller than
  // the tokenizer's.
  WorldLatentDataset(const VAE& vae, const TextEncoder& encoder, const Tokenizer& tokenizer,
                     const WorldLatentOptions& options = {});

  int64_t size() const override { return options_.count; }
  LatentSample get(int64_t index) const override;
  Tensor empty_context() const override;  // the encoder's output for "" ([1, dim]: eos only)
  std::vector<int32_t> empty_caption_ids() const override;  // {eos}
  // "WxHxT" of the rendered clip, e.g. "160x96x25" or "128x128x1": one bucket per latent shape.
  std::string bucket(int64_t index) const override;

  WorldClipPick pick(int64_t index) const;
  std::string caption(int64_t index) const;
  // The caption index's phrasing draws would give another scene (e.g. its scene with other shapes).
  std::string caption(int64_t index, const Scene& scene) const;
  Tensor clip(int64_t index) const;           // [3, T, H, W] in [-1, 1]
  Tensor mu(int64_t index) const;             // raw VAE mu [z_dim, T', H', W'] (cached)
  std::vector<int32_t> caption_ids(int64_t index) const;  // at most max_text_len, eos last
  Tensor context(int64_t index, int64_t* length = nullptr) const;  // [L, dim]

  // Fills the cache for indices [first, first + count); a progress line on stderr when
  // progress is set. Returns how many entries were computed (the rest were already there).
  int64_t precompute(int64_t first, int64_t count, bool progress = true) const;

  const WorldLatentOptions& options() const { return options_; }
  const std::string& cache_key() const { return key_; }
  std::string cache_path(int64_t index) const;  // "" without a cache
  // Cache traffic since construction (for tests and the progress line).
  int64_t cache_hits() const { return hits_; }
  int64_t cache_misses() const { return misses_; }

 private:
  const VAE& vae_;
  const TextEncoder& encoder_;
  const Tokenizer& tokenizer_;
  WorldLatentOptions options_;
  std::string key_;
  Tensor empty_;
  mutable std::atomic<int64_t> hits_{0}, misses_{0};
};

}  // namespace kinema::world
