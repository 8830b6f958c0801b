// Encoder3d and Decoder3d: the module lists of each stage, the resamplers between stages and
// one chunk through either network. The time cache in Run carries state across chunks.
#include "kinema/error.hpp"
#include "models/vae/vae_internal.hpp"

namespace kinema::vae {

std::vector<StageModule> encoder_modules(const VaeConfig& c) {
  std::vector<StageModule> out;
  int64_t in = c.dim;
  for (size_t i = 0; i < c.dim_mult.size(); ++i) {
    int64_t o = c.dim * c.dim_mult[i];
    for (int64_t r = 0; r < c.num_res_blocks; ++r, in = o) out.push_back({ModuleKind::residual, in, o, false});
    if (i + 1 < c.dim_mult.size()) out.push_back({ModuleKind::resample, o, o, bool(c.temporal_downsample[i])});
  }
  return out;
}

// Wan's Decoder3d: widths dim·[mult[-1]] + dim·reversed(mult); num_res_blocks + 1 residual
// blocks per stage; each upsampler halves the width, so stage i > 0 starts at width[i] / 2.
std::vector<StageModule> decoder_modules(const VaeConfig& c) {
  size_t n = c.dim_mult.size();
  std::vector<int64_t> widths{c.dim * c.dim_mult.back()};
  for (size_t i = 0; i < n; ++i) widths.push_back(c.dim * c.dim_mult[n - 1 - i]);
  std::vector<StageModule> out;
  int64_t in = widths[0];
  for (size_t i = 0; i < n; ++i) {
    int64_t o = widths[i + 1];
    if (i > 0) in = widths[i] / 2;
    for (int64_t r = 0; r <= c.num_res_blocks; ++r, in = o) out.push_back({ModuleKind::residual, in, o, false});
    if (i + 1 < n) out.push_back({ModuleKind::resample, o, o / 2, bool(c.temporal_downsample[n - 2 - i])});
  }
  return out;
}

// Spatial half: ZeroPad2d((0, 1, 0, 1)) then a stride-2 3x3 Conv2d on every frame (run as a
// conv3d with a 1x3x3 kernel). Temporal stages then apply time_conv (kernel 3, stride 2, no
// padding) with frame 0 passing alone: out = [x0, time_conv(x)] over the whole stream, which
// chunks of an even number of frames reproduce by prepending the previous chunk's last frame.
Tensor downsample(Run& run, const std::string& p, const StageModule& m, const Tensor& x) {
  Tensor w = reshape(run.param(p + ".resample.1.weight"), {m.out, m.in, 1, 3, 3});
  Tensor y = pad(x, {{0, 0}, {0, 0}, {0, 0}, {0, 1}, {0, 1}});   // [B, C, T, H+1, W+1]
  y = conv3d(y, w, run.param(p + ".resample.1.bias"), {{1, 2, 2}, {}, false});  // [B, C, T, H/2, W/2]
  if (!m.temporal) return y;
  TimeSlot& slot = run.cache.take();
  Tensor tw = run.param(p + ".time_conv.weight"), tb = run.param(p + ".time_conv.bias");
  int64_t T = y.size(2);
  Tensor out;
  if (!slot.started) {
    KINEMA_CHECK(T % 2 == 1, "vae", p, ": the first chunk at this stage has ", T,
                 " frames; expected an odd count (frame 0 alone, then pairs)");
    Tensor first = slice(y, 2, 0, 1);                                       // [B, C, 1, h, w]
    out = T == 1 ? first : concat({first, conv3d(y, tw, tb, {{2, 1, 1}, {}, false})}, 2);  // [B, C, 1 + (T-1)/2, h, w]
    slot.started = true;
  } else {
    KINEMA_CHECK(T % 2 == 0, "vae", p, ": a chunk after the first has ", T,
                 " frames at this stage; expected an even count");
    out = conv3d(concat({slot.frames, y}, 2), tw, tb, {{2, 1, 1}, {}, false});  // [B, C, T/2, h, w]
  }
  slot.frames = contiguous(slice(y, 2, T - 1, T));  // [B, C, 1, h, w]
  return out;
}

// Temporal stages first run time_conv (C -> 2C, causal kernel 3) on every frame after frame 0
// and interleave the two channel halves as two frames (frame 0 passes alone, as in Wan's
// 'Rep' cache state); then nearest ×2 upsampling and a 3x3 Conv2d (C -> C/2) on every frame.
Tensor upsample(Run& run, const std::string& p, const StageModule& m, const Tensor& x) {
  Tensor y = x;
  if (m.temporal) {
    TimeSlot& slot = run.cache.take();
    int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
    std::vector<Tensor> parts;
    Tensor rest = x;
    if (!slot.started) {
      parts.push_back(slice(x, 2, 0, 1));  // [B, C, 1, H, W]
      rest = T > 1 ? slice(x, 2, 1, T) : Tensor();
      slot.started = true;
    }
    if (rest.defined()) {
      Tensor tw = run.param(p + ".time_conv.weight"), tb = run.param(p + ".time_conv.bias");
      Tensor d = cached_causal_conv(slot, rest, tw, tb);                  // [B, 2C, t, H, W]
      int64_t t = d.size(2);
      d = reshape(contiguous(permute(reshape(d, {B, 2, C, t, H, W}), {0, 2, 3, 1, 4, 5})),
                  {B, C, 2 * t, H, W});                                   // [B, C, 2t, H, W]
      parts.push_back(d);
    }
    y = parts.size() == 1 ? parts[0] : concat(parts, 2);  // [B, C, T', H, W]
  }
  Tensor w = reshape(run.param(p + ".resample.1.weight"), {m.out, m.in, 1, 3, 3});
  y = upsample_nearest(y, {2, 2});                                                   // [B, C, T', 2H, 2W]
  return conv3d(y, w, run.param(p + ".resample.1.bias"), {{}, {0, 1, 1}, false});  // [B, C/2, T', 2H, 2W]
}

namespace {

Tensor middle(Run& run, const std::string& p, const Tensor& x) {
  Tensor y = residual_block(run, p + ".0", x);  // [B, C, T, H, W]
  y = attention_block(run, p + ".1", y);
  return residual_block(run, p + ".2", y);
}

Tensor head(Run& run, const std::string& p, const Tensor& x) {
  Tensor y = silu(channel_rms_norm(run, p + ".0.gamma", x));
  return causal_conv(run, p + ".2", y);  // [B, out, T, H, W]
}

}  // namespace

Tensor encoder_chunk(Run& run, const Tensor& x) {
  Tensor y = causal_conv(run, "encoder.conv1", x);  // [B, dim, t, H, W]
  run.record("encoder.conv1", y);
  std::vector<StageModule> mods = encoder_modules(run.model.config());
  for (size_t i = 0; i < mods.size(); ++i) {
    std::string p = "encoder.downsamples." + std::to_string(i);
    y = mods[i].kind == ModuleKind::residual ? residual_block(run, p, y)  // [B, out, t, h, w]
                                             : downsample(run, p, mods[i], y);  // [B, C, t', h/2, w/2]
    run.record(p, y);
  }
  y = middle(run, "encoder.middle", y);
  run.record("encoder.middle", y);
  y = head(run, "encoder.head", y);  // [B, 2z, t', H/s, W/s]
  run.record("encoder.head", y);
  return y;
}

Tensor decoder_chunk(Run& run, const Tensor& z) {
  Tensor y = causal_conv(run, "decoder.conv1", z);  // [B, width0, t, h, w]
  run.record("decoder.conv1", y);
  y = middle(run, "decoder.middle", y);
  run.record("decoder.middle", y);
  std::vector<StageModule> mods = decoder_modules(run.model.config());
  for (size_t i = 0; i < mods.size(); ++i) {
    std::string p = "decoder.upsamples." + std::to_string(i);
    y = mods[i].kind == ModuleKind::residual ? residual_block(run, p, y)  // [B, out, t, h, w]
                                             : upsample(run, p, mods[i], y);  // [B, C/2, t'', 2h, 2w]
    run.record(p, y);
  }
  y = head(run, "decoder.head", y);  // [B, 3, t'', h·s, w·s]
  run.record("decoder.head", y);
  return y;
}

}  // namespace kinema::vae
