// Pieces of the VAE shared between src/models/vae/*.cpp (not a public header).
#pragma once
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "kinema/ops.hpp"
#include "kinema/vae.hpp"

namespace kinema::vae {

// One entry of encoder.downsamples / decoder.upsamples (Wan's nn.Sequential order).
enum class ModuleKind { residual, resample };
struct StageModule {
  ModuleKind kind = ModuleKind::residual;
  int64_t in = 0, out = 0;  // channels
  bool temporal = false;    // resample: also halves (encoder) / doubles (decoder) time
};
std::vector<StageModule> encoder_modules(const VaeConfig& c);
std::vector<StageModule> decoder_modules(const VaeConfig& c);

// Wan's feat_cache: what each time-mixing conv remembers between chunks, in call order.
//   causal 3x3x3 conv: the last 2 frames of its input stream (undefined = the zero padding
//     that precedes frame 0);
//   encoder time downsampler: `started` once frame 0 has passed (it passes alone), then the
//     last input frame (the next stride-2 window starts there);
//   decoder time upsampler: `started` once frame 0 has passed (alone), then the last 2 frames
//     of the stream after frame 0, like a causal conv.
struct TimeSlot {
  bool started = false;
  Tensor frames;  // [B, C, <=2, H, W]
};
struct TimeCache {
  std::deque<TimeSlot> slots;  // a deque: a slot's reference stays valid while later ones are added
  size_t next = 0;  // reset to 0 at every chunk; slots are created during the first chunk
  TimeSlot& take() {
    if (next == slots.size()) slots.emplace_back();
    return slots[next++];
  }
};

// What one encode/decode call needs besides its activations.
struct Run {
  const VAE& model;
  TimeCache cache;
  std::map<std::string, std::vector<Tensor>> trace;  // per chunk, concatenated at the end
  bool tracing = false;

  Tensor param(const std::string& name) const;  // f32-compatible (quantized -> f32)
  void record(const std::string& name, const Tensor& x) {
    if (tracing) trace[name].push_back(x);
  }
};

// Causal Conv3d `prefix` with its weight [O, C, kT, k, k]: spatial padding k/2, time padding
// kT-1 frames in front, taken from the time cache (zeros before frame 0). x [B, C, T, H, W].
Tensor causal_conv(Run& run, const std::string& prefix, const Tensor& x);
// The same with explicit weights and slot (the decoder's time upsampler shares it).
Tensor cached_causal_conv(TimeSlot& slot, const Tensor& x, const Tensor& w, const Tensor& b);
// A 1x1x1 conv (no time mixing, no cache).
Tensor pointwise_conv(const Run& run, const std::string& prefix, const Tensor& x);
// Wan's RMS_norm: F.normalize over channels (dim 1) · sqrt(C) · gamma. x [B, C, ...]
Tensor channel_rms_norm(const Run& run, const std::string& gamma_key, const Tensor& x);
// ResidualBlock `prefix`: x [B, in, T, H, W] -> [B, out, T, H, W]
Tensor residual_block(Run& run, const std::string& prefix, const Tensor& x);
// AttentionBlock `prefix`: single head over each frame's H×W positions. x [B, C, T, H, W]
Tensor attention_block(const Run& run, const std::string& prefix, const Tensor& x);
// Encoder resample `prefix`: [B, C, T, H, W] -> [B, C, T' , H/2, W/2] (T' = T or halved)
Tensor downsample(Run& run, const std::string& prefix, const StageModule& m, const Tensor& x);
// Decoder resample `prefix`: [B, C, T, H, W] -> [B, C/2, T', 2H, 2W] (T' = T or doubled)
Tensor upsample(Run& run, const std::string& prefix, const StageModule& m, const Tensor& x);

// One chunk through Encoder3d / Decoder3d (the cache carries state across chunks).
Tensor encoder_chunk(Run& run, const Tensor& x);  // [B, 3, t, H, W] -> [B, 2z, t', H/s, W/s]
Tensor decoder_chunk(Run& run, const Tensor& z);  // [B, z, t, h, w] -> [B, 3, t'', h·s, w·s]

}  // namespace kinema::vae
