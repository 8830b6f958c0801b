// Pieces of the VAE shared between src/models/vae/*.cpp (not a public header).
#pragma once
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "kinema/ops.hpp"
#include "kinema/vae.hpp"

namespace kinema::vae {

// One residual block or resampler of the encoder or decoder (Wan's nn.Sequential order).
enum class ModuleKind { residual, resample };
struct StageModule {
  ModuleKind kind = ModuleKind::residual;
  int64_t in = 0, out = 0;  // channels
  bool temporal = false;    // resample: also halves (encoder) / doubles (decoder) time
  int stage = 0;            // which stage it belongs to
  std::string key;          // checkpoint prefix: encoder.downsamples.N (Wan2.1) or
                            // encoder.downsamples.S.downsamples.M (Wan2.2)
};
std::vector<StageModule> encoder_modules(const VaeConfig& c);
std::vector<StageModule> decoder_modules(const VaeConfig& c);

// Wan2.2's parameter-free stage shortcut (AvgDown3D in the encoder, DupUp3D in the decoder):
// the stage input reshaped to the stage output by factor_t x factor_s x factor_s space-time
// blocks and channel groups. `present` is false where Wan has none (the decoder's last stage).
struct StageShortcut {
  bool present = false;
  int64_t in = 0, out = 0, factor_t = 1, factor_s = 1;
};
std::vector<StageShortcut> encoder_shortcuts(const VaeConfig& c);  // one per stage (wan22)
std::vector<StageShortcut> decoder_shortcuts(const VaeConfig& c);
// AvgDown3D: x [B, in, T, H, W] (T zero-padded in front to a multiple of factor_t) ->
// [B, out, ceil(T / ft), H / fs, W / fs], each output the mean of its channel group.
Tensor average_down(const Tensor& x, const StageShortcut& s);
// DupUp3D: x [B, in, T, H, W] -> [B, out, T·ft, H·fs, W·fs], each input repeated; the first
// chunk of a stream drops its first ft - 1 frames (frame 0 is decoded alone).
Tensor duplicate_up(const Tensor& x, const StageShortcut& s, bool first_chunk);
// Wan2.2's pixel patchify, "b c f (h q) (w r) -> b (c r q) f h w": [B, C, T, H, W] ->
// [B, C·p², T, H/p, W/p], and its inverse.
Tensor patchify_pixels(const Tensor& x, int64_t p);
Tensor unpatchify_pixels(const Tensor& x, int64_t p);

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
  bool first_chunk = true;  // decoding the chunk that holds latent frame 0 (DupUp3D trims it)
  DType compute = DType::f32;  // the convolutions' products (VaeRunOptions::compute)

  Tensor param(const std::string& name) const;  // f32-compatible (quantized -> f32)
  void record(const std::string& name, const Tensor& x) {
    if (tracing) trace[name].push_back(x);
  }
};

// conv3d in the run's compute dtype: f32 as conv3d; bf16 as conv3d_autocast (f32 results).
Tensor conv(DType compute, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& o);

// Causal Conv3d `prefix` with its weight [O, C, kT, k, k]: spatial padding k/2, time padding
// kT-1 frames in front, taken from the time cache (zeros before frame 0). x [B, C, T, H, W].
Tensor causal_conv(Run& run, const std::string& prefix, const Tensor& x);
// The same with explicit weights and slot (the decoder's time upsampler shares it).
Tensor cached_causal_conv(TimeSlot& slot, const Tensor& x, const Tensor& w, const Tensor& b, DType compute);
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
