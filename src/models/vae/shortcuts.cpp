// Wan2.2's parameter-free VAE pieces (wan/modules/vae2_2.py): the pixel patchify around the
// networks and the stage shortcuts AvgDown3D / DupUp3D. All are reshapes, permutes and a mean
// or a broadcast, so autograd passes through them.
#include "kinema/error.hpp"
#include "models/vae/vae_internal.hpp"

namespace kinema::vae {

// Channel c·p² + r·p + q holds pixel (h·p + q, w·p + r): q (rows) varies fastest, as in Wan's
// "b c f (h q) (w r) -> b (c r q) f h w".
Tensor patchify_pixels(const Tensor& x, int64_t p) {
  if (p == 1) return x;
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2), h = x.size(3) / p, w = x.size(4) / p;
  Tensor y = reshape(x, {B, C, T, h, p, w, p});                    // [B, C, T, h, q, w, r]
  y = contiguous(permute(y, {0, 1, 6, 4, 2, 3, 5}));                // [B, C, r, q, T, h, w]
  return reshape(y, {B, C * p * p, T, h, w});                       // [B, C·p², T, h, w]
}

Tensor unpatchify_pixels(const Tensor& x, int64_t p) {
  if (p == 1) return x;
  const int64_t B = x.size(0), C = x.size(1) / (p * p), T = x.size(2), h = x.size(3), w = x.size(4);
  Tensor y = reshape(x, {B, C, p, p, T, h, w});                     // [B, C, r, q, T, h, w]
  y = contiguous(permute(y, {0, 1, 4, 5, 3, 6, 2}));                // [B, C, T, h, q, w, r]
  return reshape(y, {B, C, T, h * p, w * p});                       // [B, C, T, H, W]
}

// The in·ft·fs² values of each output position's block, in the order (channel, ft, fs, fs),
// are split into `out` consecutive groups and averaged: channel o averages block entries
// [o·g, (o + 1)·g) with g = in·ft·fs² / out.
Tensor average_down(const Tensor& x_in, const StageShortcut& s) {
  const int64_t ft = s.factor_t, fs = s.factor_s;
  const int64_t front = (ft - x_in.size(2) % ft) % ft;  // zeros before frame 0 (a 1-frame chunk)
  Tensor x = front ? pad(x_in, {{0, 0}, {0, 0}, {front, 0}, {0, 0}, {0, 0}}) : x_in;
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2) / ft, H = x.size(3) / fs, W = x.size(4) / fs;
  const int64_t group = C * ft * fs * fs / s.out;
  Tensor y = reshape(x, {B, C, T, ft, H, fs, W, fs});                    // [B, C, T', ft, H', fs, W', fs]
  y = contiguous(permute(y, {0, 1, 3, 5, 7, 2, 4, 6}));                  // [B, C, ft, fs, fs, T', H', W']
  y = reshape(y, {B, s.out, group, T, H, W});                            // [B, out, g, T', H', W']
  return mean(y, {{2}, false});                                          // [B, out, T', H', W']
}

// Input channel k is repeated r = out·ft·fs² / in times (repeat_interleave), and the resulting
// out·ft·fs² channels fill each output block in the order (channel, ft, fs, fs).
Tensor duplicate_up(const Tensor& x, const StageShortcut& s, bool first_chunk) {
  const int64_t ft = s.factor_t, fs = s.factor_s;
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
  const int64_t repeats = s.out * ft * fs * fs / C;
  Tensor y = expand(reshape(x, {B, C, 1, T, H, W}), {B, C, repeats, T, H, W});  // [B, C, r, T, H, W]
  y = reshape(contiguous(y), {B, s.out, ft, fs, fs, T, H, W});                  // [B, out, ft, fs, fs, T, H, W]
  y = contiguous(permute(y, {0, 1, 5, 2, 6, 3, 7, 4}));                          // [B, out, T, ft, H, fs, W, fs]
  y = reshape(y, {B, s.out, T * ft, H * fs, W * fs});                            // [B, out, T·ft, H·fs, W·fs]
  // Frame 0 passes the main path's time upsampler alone, so its duplicates go.
  return first_chunk && ft > 1 ? slice(y, 2, ft - 1, T * ft) : y;
}

}  // namespace kinema::vae
