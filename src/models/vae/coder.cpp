// Encoder3d and Decoder3d: the module lists of each stage (Wan2.1's flat lists or Wan2.2's
// per-stage blocks with their shortcuts), the resamplers between stages and one chunk through
// either network. The time cache in Run carries state across chunks.
#include "kinema/error.hpp"
#include "models/vae/vae_internal.hpp"

namespace kinema::vae {

namespace {

// Wan2.1 numbers the modules of a network in one list; Wan2.2 nests them in per-stage blocks.
std::string module_key(const VaeConfig& c, const char* net, int stage, size_t flat, size_t in_stage) {
  const std::string list = std::string(net) == "encoder" ? "downsamples" : "upsamples";
  const std::string p = std::string(net) + "." + list + ".";
  if (c.layout == VaeLayout::wan21) return p + std::to_string(flat);
  return p + std::to_string(stage) + "." + list + "." + std::to_string(in_stage);
}

// Decoder stage widths: base·[mult[-1]] + base·reversed(mult) (Wan's Decoder3d `dims`).
std::vector<int64_t> decoder_widths(const VaeConfig& c) {
  const int64_t base = c.decoder_width();
  std::vector<int64_t> widths{base * c.dim_mult.back()};
  for (size_t i = 0; i < c.dim_mult.size(); ++i) widths.push_back(base * c.dim_mult[c.dim_mult.size() - 1 - i]);
  return widths;
}

}  // namespace

std::vector<StageModule> encoder_modules(const VaeConfig& c) {
  std::vector<StageModule> out;
  int64_t in = c.dim;
  for (size_t i = 0; i < c.dim_mult.size(); ++i) {
    int64_t o = c.dim * c.dim_mult[i];
    size_t m = 0;
    for (int64_t r = 0; r < c.num_res_blocks; ++r, in = o, ++m)
      out.push_back({ModuleKind::residual, in, o, false, int(i), module_key(c, "encoder", int(i), out.size(), m)});
    if (i + 1 < c.dim_mult.size())
      out.push_back({ModuleKind::resample, o, o, bool(c.temporal_downsample[i]), int(i),
                     module_key(c, "encoder", int(i), out.size(), m)});
  }
  return out;
}

// Wan's Decoder3d: num_res_blocks + 1 residual blocks per stage; Wan2.1's upsamplers halve the
// width (stage i > 0 starts at widths[i] / 2), Wan2.2's keep it.
std::vector<StageModule> decoder_modules(const VaeConfig& c) {
  const size_t n = c.dim_mult.size();
  const std::vector<int64_t> widths = decoder_widths(c);
  const bool halve = c.layout == VaeLayout::wan21;
  std::vector<StageModule> out;
  int64_t in = widths[0];
  for (size_t i = 0; i < n; ++i) {
    int64_t o = widths[i + 1];
    if (i > 0) in = halve ? widths[i] / 2 : widths[i];
    size_t m = 0;
    for (int64_t r = 0; r <= c.num_res_blocks; ++r, in = o, ++m)
      out.push_back({ModuleKind::residual, in, o, false, int(i), module_key(c, "decoder", int(i), out.size(), m)});
    if (i + 1 < n)
      out.push_back({ModuleKind::resample, o, halve ? o / 2 : o, bool(c.temporal_downsample[n - 2 - i]), int(i),
                     module_key(c, "decoder", int(i), out.size(), m)});
  }
  return out;
}

// Wan2.2's Down_ResidualBlock: AvgDown3D(dims[i], dims[i+1]) by 2 in time where the stage
// halves time and 2 in space in every stage but the last (there it is the identity).
std::vector<StageShortcut> encoder_shortcuts(const VaeConfig& c) {
  std::vector<StageShortcut> out;
  int64_t in = c.dim;
  for (size_t i = 0; i < c.dim_mult.size(); ++i) {
    const bool down = i + 1 < c.dim_mult.size();
    const int64_t o = c.dim * c.dim_mult[i];
    out.push_back({true, in, o, down && c.temporal_downsample[i] ? 2 : 1, down ? 2 : 1});
    in = o;
  }
  return out;
}

// Wan2.2's Up_ResidualBlock: DupUp3D(dims[i], dims[i+1]) in every stage that upsamples.
std::vector<StageShortcut> decoder_shortcuts(const VaeConfig& c) {
  const size_t n = c.dim_mult.size();
  const std::vector<int64_t> widths = decoder_widths(c);
  std::vector<StageShortcut> out;
  for (size_t i = 0; i < n; ++i) {
    const bool up = i + 1 < n;
    out.push_back({up, widths[i], widths[i + 1], up && c.temporal_downsample[n - 2 - i] ? 2 : 1, up ? 2 : 1});
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
  y = conv(run.compute, y, w, run.param(p + ".resample.1.bias"), {{1, 2, 2}, {}, false});  // [B, C, T, H/2, W/2]
  if (!m.temporal) return y;
  TimeSlot& slot = run.cache.take();
  Tensor tw = run.param(p + ".time_conv.weight"), tb = run.param(p + ".time_conv.bias");
  int64_t T = y.size(2);
  Tensor out;
  if (!slot.started) {
    KINEMA_CHECK(T % 2 == 1, "vae", p, ": the first chunk at this stage has ", T,
                 " frames; expected an odd count (frame 0 alone, then pairs)");
    Tensor first = slice(y, 2, 0, 1);                                       // [B, C, 1, h, w]
    out = T == 1 ? first : concat({first, conv(run.compute, y, tw, tb, {{2, 1, 1}, {}, false})}, 2);  // [B, C, 1 + (T-1)/2, h, w]
    slot.started = true;
  } else {
    KINEMA_CHECK(T % 2 == 0, "vae", p, ": a chunk after the first has ", T,
                 " frames at this stage; expected an even count");
    out = conv(run.compute, concat({slot.frames, y}, 2), tw, tb, {{2, 1, 1}, {}, false});  // [B, C, T/2, h, w]
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
      Tensor d = cached_causal_conv(slot, rest, tw, tb, run.compute);                // [B, 2C, t, H, W]
      int64_t t = d.size(2);
      d = reshape(contiguous(permute(reshape(d, {B, 2, C, t, H, W}), {0, 2, 3, 1, 4, 5})),
                  {B, C, 2 * t, H, W});                                   // [B, C, 2t, H, W]
      parts.push_back(d);
    }
    y = parts.size() == 1 ? parts[0] : concat(parts, 2);  // [B, C, T', H, W]
  }
  Tensor w = reshape(run.param(p + ".resample.1.weight"), {m.out, m.in, 1, 3, 3});
  y = upsample_nearest(y, {2, 2});                                                   // [B, C, T', 2H, 2W]
  return conv(run.compute, y, w, run.param(p + ".resample.1.bias"), {{}, {0, 1, 1}, false});  // [B, C/2, T', 2H, 2W]
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

// Runs the modules of one network; Wan2.1 traces every module, Wan2.2 every stage (its input
// added back through the stage shortcut).
Tensor run_stages(Run& run, const char* net, const std::vector<StageModule>& mods,
                  const std::vector<StageShortcut>& shortcuts, Tensor y) {
  const bool encoder = std::string(net) == "encoder";
  const bool staged = run.model.config().layout == VaeLayout::wan22;
  Tensor stage_in = y;
  for (size_t i = 0; i < mods.size(); ++i) {
    const StageModule& m = mods[i];
    if (m.kind == ModuleKind::residual) y = residual_block(run, m.key, y);  // [B, out, t, h, w]
    else y = encoder ? downsample(run, m.key, m, y) : upsample(run, m.key, m, y);  // [B, C', t', h', w']
    if (!staged) {
      run.record(m.key, y);
      continue;
    }
    if (i + 1 < mods.size() && mods[i + 1].stage == m.stage) continue;
    const StageShortcut& s = shortcuts[size_t(m.stage)];
    if (s.present) y = add(y, encoder ? average_down(stage_in, s) : duplicate_up(stage_in, s, run.first_chunk));
    run.record(std::string(net) + (encoder ? ".downsamples." : ".upsamples.") + std::to_string(m.stage), y);
    stage_in = y;
  }
  return y;
}

}  // namespace

Tensor encoder_chunk(Run& run, const Tensor& video) {
  const VaeConfig& c = run.model.config();
  Tensor x = patchify_pixels(video, c.patch_size);  // [B, 3p², t, H/p, W/p]
  Tensor y = causal_conv(run, "encoder.conv1", x);  // [B, dim, t, H/p, W/p]
  run.record("encoder.conv1", y);
  y = run_stages(run, "encoder", encoder_modules(c), encoder_shortcuts(c), y);
  y = middle(run, "encoder.middle", y);
  run.record("encoder.middle", y);
  y = head(run, "encoder.head", y);  // [B, 2z, t', H/s, W/s]
  run.record("encoder.head", y);
  return y;
}

Tensor decoder_chunk(Run& run, const Tensor& z) {
  const VaeConfig& c = run.model.config();
  Tensor y = causal_conv(run, "decoder.conv1", z);  // [B, width0, t, h, w]
  run.record("decoder.conv1", y);
  y = middle(run, "decoder.middle", y);
  run.record("decoder.middle", y);
  y = run_stages(run, "decoder", decoder_modules(c), decoder_shortcuts(c), y);
  y = head(run, "decoder.head", y);  // [B, 3p², t'', h·s/p, w·s/p]
  run.record("decoder.head", y);
  return unpatchify_pixels(y, c.patch_size);  // [B, 3, t'', h·s, w·s]
}

}  // namespace kinema::vae
