// Frame conditioning (docs/conditioning.md, docs/modes.md): frames <-> normalized latents and
// the [mask | known latent] tensor the DiT reads next to the noisy latent, in Wan I2V's layout.
#include <algorithm>
#include <cmath>

#include "generate/internal.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/pipeline.hpp"

namespace kinema {

std::vector<float> condition_mask(const std::vector<int>& given, int frames, int tc) {
  check(tc >= 1 && frames >= 1 && (frames - 1) % tc == 0, "condition_mask", "a clip has 1 + ", tc,
        "k frames; got ", frames);
  const int T = 1 + (frames - 1) / tc;
  std::vector<float> m(size_t(tc * T), 0.f);  // [K, T']
  for (int f : given) {
    check(f >= 0 && f < frames, "condition_mask", "frame ", f, " is outside the clip (0..", frames - 1, ")");
    if (f == 0) {
      for (int i = 0; i < tc; ++i) m[size_t(i * T)] = 1.f;  // latent 0 is video frame 0 alone
    } else {
      const int j = 1 + (f - 1) / tc, i = (f - 1) % tc;     // f = tc(j - 1) + 1 + i
      m[size_t(i * T + j)] = 1.f;
    }
  }
  return m;
}

namespace detail {

Tensor frames_to_video(const std::vector<Frame>& frames) {
  check(!frames.empty(), "encode_frames", "no frames");
  const int64_t T = int64_t(frames.size()), H = frames[0].height, W = frames[0].width;
  std::vector<float> v(size_t(3 * T * H * W));
  for (int64_t t = 0; t < T; ++t) {
    const Frame& f = frames[size_t(t)];
    check(f.width == W && f.height == H && f.rgb.size() == size_t(W * H * 3), "encode_frames", "frame ", t,
          " is ", f.width, "x", f.height, "; expected ", W, "x", H, " like frame 0");
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t i = 0; i < H * W; ++i)
        v[size_t((ch * T + t) * H * W + i)] = float(f.rgb[size_t(i * 3 + ch)]) / 127.5f - 1.f;
  }
  return Tensor::from_vector(v, {1, 3, T, H, W});  // [1, 3, T, H, W] in [-1, 1]
}

std::vector<Frame> video_to_frames(const Tensor& video) {
  const std::vector<float> v = video.to_vector();
  const int64_t T = video.shape()[2], H = video.shape()[3], W = video.shape()[4];
  std::vector<Frame> out;
  for (int64_t t = 0; t < T; ++t) {
    Frame f;
    f.width = int(W), f.height = int(H);
    f.rgb.resize(size_t(W * H * 3));
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t i = 0; i < H * W; ++i) {
        const float x = v[size_t((ch * T + t) * H * W + i)];
        f.rgb[size_t(i * 3 + ch)] = uint8_t(std::clamp(std::lround((x + 1.f) * 127.5f), 0L, 255L));
      }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<bool> known_latent_frames(const Tensor& condition, int64_t mask_channels) {
  const Shape s = condition.shape();  // [1, K + C, T', h, w]
  const int64_t T = s[2], plane = s[3] * s[4];
  const std::vector<float> c = condition.to_vector();
  std::vector<bool> out(size_t(T), true);
  for (int64_t j = 0; j < T; ++j)
    for (int64_t k = 0; k < mask_channels; ++k) out[size_t(j)] = out[size_t(j)] && c[size_t((k * T + j) * plane)] == 1.f;
  return out;
}

Tensor paste_known(const Tensor& z, const Tensor& condition, int64_t mask_channels) {
  const Shape s = z.shape();  // [1, C, T', h, w]
  const int64_t C = s[1], T = s[2], plane = s[3] * s[4];
  std::vector<float> v = z.to_vector();
  const std::vector<float> c = condition.to_vector();  // [1, K + C, T', h, w]
  const std::vector<bool> full = known_latent_frames(condition, mask_channels);
  for (int64_t j = 0; j < T; ++j) {
    if (!full[size_t(j)]) continue;
    for (int64_t ch = 0; ch < C; ++ch)
      std::copy_n(c.data() + ((mask_channels + ch) * T + j) * plane, plane, v.data() + (ch * T + j) * plane);
  }
  return Tensor::from_vector(v, s);
}

Tensor replace_first_latent(const Tensor& x, const Tensor& first) {
  const int64_t T = x.size(2);
  return T == 1 ? first : kinema::concat({first, slice(x, 2, 1, T)}, 2);  // [1, C, T', h, w]
}

Tensor first_frame_timesteps(float t, const Shape& s, const DiTConfig& c) {
  const int64_t per_frame = (s[3] / c.patch_size[1]) * (s[4] / c.patch_size[2]);  // tokens of one patch frame
  const int64_t n = (s[2] / c.patch_size[0]) * per_frame;
  std::vector<float> v(size_t(n), t);
  std::fill_n(v.begin(), per_frame, 0.f);  // tokens run (t, h, w): frame 0's come first
  return Tensor::from_vector(v, {1, n});   // [1, N]
}

}  // namespace detail

Tensor Pipeline::encode_frames(const std::vector<Frame>& frames) const {
  const int64_t tc = vae_.config().temporal_compression(), s = vae_.config().spatial_compression();
  check((int64_t(frames.size()) - 1) % tc == 0, "encode_frames", "a clip has 1 + ", tc, "k frames; got ",
        frames.size());
  check(!frames.empty() && frames[0].width % s == 0 && frames[0].height % s == 0, "encode_frames",
        "frames must be a multiple of ", s, " pixels per side");
  NoGradGuard no_grad;
  return vae_.normalize(vae_.encode(detail::frames_to_video(frames)).mu);  // [1, C, T', h, w]
}

std::vector<Frame> Pipeline::decode_frames(const Tensor& latent, const DecodeTiling& tiling) const {
  check(latent.ndim() == 5, "decode", "latent must be [1, C, T', h, w]; got ", shape_str(latent.shape()));
  DecodeTiling t = tiling;
  if (t.tile == DecodeTiling::kAuto) {  // decided by the memory available now
    GenerateRequest r;
    const int64_t s = vae_.config().spatial_compression(), tc = vae_.config().temporal_compression();
    r.width = int(latent.size(4) * s), r.height = int(latent.size(3) * s), r.frames = int(1 + (latent.size(2) - 1) * tc);
    r.vae_tile = tiling;
    t = decode_tiling(r, detail::available_bytes());
  }
  decode_tiling(GenerateRequest{.vae_tile = t}, 0);  // checks the tile against its overlap
  NoGradGuard no_grad;
  const Tensor z = vae_.denormalize(latent);
  return detail::video_to_frames(t.tile > 0 ? vae_.decode_tiled(z, VaeTileOptions{t.tile, t.overlap})
                                            : vae_.decode(z));  // [1, 3, T, H, W]
}

Tensor Pipeline::condition_tensor(const std::vector<KnownFrame>& known, int frames, int width,
                                  int height) const {
  const int64_t tc = vae_.config().temporal_compression(), s = vae_.config().spatial_compression();
  const int64_t C = vae_.config().z_dim, K = dit_.config().in_dim - 2 * C;
  check(K == tc, "condition", "the DiT has ", dit_.config().in_dim, " input channels; frame conditioning needs ",
        C, " noise + ", tc, " mask + ", C, " known (", 2 * C + tc, ")");
  const int64_t T = 1 + (frames - 1) / tc, h = height / s, w = width / s, plane = h * w;
  std::vector<int> given;
  for (const KnownFrame& k : known) given.push_back(k.index);
  const std::vector<float> mask = condition_mask(given, frames, int(tc));  // [K, T']
  std::vector<float> c(size_t((K + C) * T * plane), 0.f);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < T; ++j) std::fill_n(c.data() + (k * T + j) * plane, plane, mask[size_t(k * T + j)]);
  if (!known.empty()) {
    // The whole clip with the given frames in place and zeros (mid grey) elsewhere, encoded as
    // Wan's I2V/FLF2V pipelines do; the causal VAE makes a given prefix independent of the rest.
    Frame grey{width, height, std::vector<uint8_t>(size_t(width * height * 3), 128)};
    std::vector<Frame> clip(size_t(frames), grey);
    for (const KnownFrame& k : known) {
      check(k.frame.width == width && k.frame.height == height, "condition", "given frame ", k.index, " is ",
            k.frame.width, "x", k.frame.height, "; the clip is ", width, "x", height,
            " (read it with ResizeMode::crop at the clip's size)");
      clip[size_t(k.index)] = k.frame;
    }
    std::vector<float> y = encode_frames(clip).to_vector();  // [1, C, T', h, w]
    clip.clear();
    for (int64_t j = 0; j < T; ++j) {
      bool any = false;
      for (int64_t k = 0; k < K; ++k) any = any || mask[size_t(k * T + j)] != 0.f;
      if (!any && !manifest_.keep_grey_latents) continue;  // zero where nothing is given, as in training
      for (int64_t ch = 0; ch < C; ++ch)
        std::copy_n(y.data() + (ch * T + j) * plane, plane, c.data() + ((K + ch) * T + j) * plane);
    }
  }
  return Tensor::from_vector(c, {1, K + C, T, h, w});
}

}  // namespace kinema
