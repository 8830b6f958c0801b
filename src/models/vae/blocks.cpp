// VAE building blocks on the engine: cached causal 3D convolution, Wan's channel RMS norm,
// the residual block and the per-frame single-head attention block.
#include <algorithm>
#include <cmath>

#include "kinema/error.hpp"
#include "models/vae/vae_internal.hpp"

namespace kinema::vae {

Tensor Run::param(const std::string& name) const {
  const Tensor& t = model.weight(name);
  return is_quantized(t.dtype()) ? cast(t, DType::f32) : t;
}

// f32: conv3d in the weights' dtype as before (inference with bf16 weights included).
Tensor conv(DType compute, const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& o) {
  return compute == DType::f32 ? conv3d(x, w, b, o) : conv3d_autocast(x, w, b, o, compute);
}

// A causal time conv whose front padding comes from `slot`: the last kT-1 frames of the stream
// seen so far (zeros before frame 0). Equal to conv3d over the whole stream with kT-1 zero
// frames in front, whatever the chunking, because each output frame sees only its kT-1
// predecessors. x [B, C, T, H, W], w [O, C, kT, kH, kW].
Tensor cached_causal_conv(TimeSlot& slot, const Tensor& x, const Tensor& w, const Tensor& b, DType compute) {
  int64_t keep = w.size(2) - 1, ph = w.size(3) / 2, pw = w.size(4) / 2;
  Tensor y, stream;
  if (!slot.frames.defined()) {  // frame 0 of the stream: zero padding in front
    y = conv(compute, x, w, b, {{}, {0, ph, pw}, true});  // [B, O, T, H, W]
    stream = x;
  } else {
    stream = concat({slot.frames, x}, 2);  // [B, C, c + T, H, W]
    int64_t missing = keep - slot.frames.size(2);  // after a one-frame first chunk
    Tensor in = missing > 0 ? pad(stream, {{0, 0}, {0, 0}, {missing, 0}, {0, 0}, {0, 0}}) : stream;
    y = conv(compute, in, w, b, {{}, {0, ph, pw}, false});  // [B, O, T, H, W]
  }
  int64_t n = stream.size(2);
  // a copy, so the cache does not keep the whole chunk alive
  slot.frames = contiguous(slice(stream, 2, std::max<int64_t>(0, n - keep), n));  // [B, C, <=kT-1, H, W]
  return y;
}

Tensor causal_conv(Run& run, const std::string& prefix, const Tensor& x) {
  Tensor w = run.param(prefix + ".weight"), b = run.param(prefix + ".bias");
  if (w.size(2) == 1) return pointwise_conv(run, prefix, x);
  return cached_causal_conv(run.cache.take(), x, w, b, run.compute);  // [B, O, T, H, W]
}

Tensor pointwise_conv(const Run& run, const std::string& prefix, const Tensor& x) {
  Tensor w = run.param(prefix + ".weight");
  Shape s = w.shape();
  s.resize(5, 1);  // Wan's 1x1 Conv2d weights [O, C, 1, 1] run as [O, C, 1, 1, 1]
  return conv(run.compute, x, reshape(w, s), run.param(prefix + ".bias"), {});  // [B, O, T, H, W]
}

// F.normalize(x, dim=1) · sqrt(C) · gamma = x / max(||x||, 1e-12) · sqrt(C) · gamma
//                                         = x · rsqrt(mean_c(x²) + ε) · gamma, ε = 1e-24 / C
// (the clamp on the norm becomes an ε on the mean square; both only matter at x = 0).
Tensor channel_rms_norm(const Run& run, const std::string& gamma_key, const Tensor& x) {
  int64_t C = x.size(1);
  Shape gs(size_t(x.ndim() - 1), 1);
  gs[0] = C;
  Tensor g = reshape(run.param(gamma_key), gs);                 // [C, 1, 1, 1]
  Tensor ms = mean(square(x), {{1}, true});                     // [B, 1, T, H, W]
  Tensor inv = rsqrt(add_scalar(ms, 1e-24f / float(C)));        // [B, 1, T, H, W]
  return mul(mul(x, inv), g);                                   // [B, C, T, H, W]
}

Tensor residual_block(Run& run, const std::string& p, const Tensor& x) {
  bool has_shortcut = run.model.weights().count(p + ".shortcut.weight") > 0;
  Tensor h = has_shortcut ? pointwise_conv(run, p + ".shortcut", x) : x;  // [B, out, T, H, W]
  Tensor y = silu(channel_rms_norm(run, p + ".residual.0.gamma", x));
  y = causal_conv(run, p + ".residual.2", y);  // [B, out, T, H, W]
  y = silu(channel_rms_norm(run, p + ".residual.3.gamma", y));
  y = causal_conv(run, p + ".residual.6", y);
  return add(y, h);
}

// Wan's AttentionBlock folds time into the batch: (b t) c h w, one head over the h·w positions
// of each frame. Here the frames take the place of heads: q [B, T, HW, C] attends within each
// frame, so no frame sees another (the block stays causal and chunkable).
Tensor attention_block(const Run& run, const std::string& p, const Tensor& x) {
  int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
  Tensor n = channel_rms_norm(run, p + ".norm.gamma", x);
  Tensor qkv = pointwise_conv(run, p + ".to_qkv", n);                        // [B, 3C, T, H, W]
  qkv = contiguous(permute(reshape(qkv, {B, 3 * C, T, H * W}), {0, 2, 3, 1}));  // [B, T, HW, 3C]
  Tensor q = slice(qkv, 3, 0, C), k = slice(qkv, 3, C, 2 * C), v = slice(qkv, 3, 2 * C, 3 * C);
  Tensor o = attention(q, k, v);                                              // [B, T, HW, C]
  o = reshape(contiguous(permute(o, {0, 3, 1, 2})), {B, C, T, H, W});         // [B, C, T, H, W]
  return add(pointwise_conv(run, p + ".proj", o), x);
}

}  // namespace kinema::vae
