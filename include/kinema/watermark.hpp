// kinema's invisible watermark: a keyed spread-spectrum mark in every generated video, so
// `kinema detect` can tell our outputs apart even after the C2PA credentials were stripped.
//
// Contracts (design and measurements: docs/safety-watermark.md):
// - The mark is a keyed pseudo-random ±1 pattern on a kWatermarkGrid × kWatermarkGrid grid in
//   normalized image coordinates, bilinearly interpolated to a smooth luma offset (added equally
//   to R, G and B, so chroma is untouched), scaled by a perceptual mask (stronger on texture,
//   weaker on flat areas) and normalized per frame to a fixed RMS: PSNR >= 42 dB by construction.
//   The same pattern is in every frame, so video codecs keep it in P/B-frames for free and the
//   detector can average frames.
// - Because the pattern lives in normalized coordinates it survives rescaling; a crop is found
//   by a search over a fixed set of scales and offsets (up to 15% of each side removed).
// - detect_watermark() averages the frames' luma in a few runs, removes the content with an
//   edge-preserving local mean, clips and weights the residual, and for every searched geometry
//   correlates it with the pattern (matched filter). For content that does not carry the mark
//   the score z is a sum of independent random signs (the key's cells) weighted by the content,
//   so P(z >= t) <= min(exp(-t^2/2), 3.18 P(N(0,1) >= t)) for any content (Hoeffding; Bentkus
//   and Dzindzalieta 2015); the p-value is that bound times the number of geometries searched
//   (union bound). No training data enters the calibration.
// - The key is a fixed project constant, optionally mixed with an operator key: a mark made
//   with one key is invisible to a detector holding another.
// - Errors (empty clip, frames of different sizes, non-RGB24 data) throw kinema::Error.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kinema/media.hpp"

namespace kinema {

inline constexpr uint64_t kWatermarkProjectKey = 0x6b696e656d612d31ULL;  // "kinema-1"
inline constexpr int kWatermarkGrid = 16;         // cells per side of the pattern
inline constexpr double kWatermarkRms = 1.8;      // luma offset RMS per frame (8-bit levels)
inline constexpr double kWatermarkPThreshold = 1e-4;  // detected when p_value <= this

struct WatermarkKey {
  uint64_t project = kWatermarkProjectKey;
  uint64_t operator_key = 0;  // 0: the project key alone
};

// An operator key from a passphrase (FNV-1a 64 of the text; empty text gives 0).
uint64_t watermark_operator_key(const std::string& passphrase);

struct WatermarkResult {
  bool detected = false;    // p_value <= kWatermarkPThreshold
  double score = 0;         // best z over the searched geometries (~N(0,1) per geometry if unmarked)
  double correlation = 0;   // score / sqrt(cells): normalized correlation in [-1, 1]
  double p_value = 1;       // bound on P(score this high | no mark), union over the geometries
  double confidence = 0;    // 1 - p_value
  double scale = 1;         // best geometry: the visible part is `scale` of the original side,
  double offset_x = 0, offset_y = 0;  // starting at (offset_x, offset_y) in normalized coords
  int geometries = 0;       // number of geometries searched
  int frames = 0;           // frames used
};

// Adds the mark to every frame in place. Frames must all have the same size (>= 16x16).
void embed_watermark(std::vector<Frame>& frames, const WatermarkKey& key);

// Looks for the mark of `key` in frames (any size >= 16x16; all frames the same size).
WatermarkResult detect_watermark(const std::vector<Frame>& frames, const WatermarkKey& key);

}  // namespace kinema
