// Spatially tiled decode: the latent is cut into overlapping tiles, each decoded on its own
// (chunked in time as usual), and the tiles are blended with linear ramps across each overlap,
// so memory depends on the tile size, not the resolution. A tile's border pixels see less
// context than in an untiled decode, hence small differences near seams that the blend hides.
#include <algorithm>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "models/vae/vae_internal.hpp"

namespace kinema {
namespace {

// Tile starts along one axis of n latent pixels: every stride, the last one flush with the end.
std::vector<int64_t> tile_starts(int64_t n, int64_t tile, int64_t stride) {
  std::vector<int64_t> starts;
  for (int64_t s = 0;; s += stride) {
    if (s + tile >= n) {
      starts.push_back(std::max<int64_t>(0, n - tile));
      break;
    }
    starts.push_back(s);
  }
  return starts;
}

// Blend weight along one axis for output pixel u of a tile spanning [a, b) output pixels whose
// neighbours end at prev_end (> a when overlapping) and start at next_start (< b): ramps from
// 0 to 1 across each overlap, 1 elsewhere. Overlapping weights are renormalised afterwards.
std::vector<float> axis_weights(int64_t a, int64_t b, int64_t prev_end, int64_t next_start) {
  std::vector<float> w(size_t(b - a), 1.f);
  for (int64_t u = a; u < b; ++u) {
    float v = 1.f;
    if (prev_end > a) v = std::min(v, (float(u - a) + 0.5f) / float(prev_end - a));
    if (next_start < b) v = std::min(v, (float(b - u) - 0.5f) / float(b - next_start));
    w[size_t(u - a)] = v;
  }
  return w;
}

}  // namespace

Tensor VAE::decode_tiled(const Tensor& z, const VaeTileOptions& tiles, const VaeRunOptions& options) const {
  KINEMA_CHECK(tiles.tile >= 1 && tiles.overlap >= 0 && tiles.overlap < tiles.tile, "vae",
               "tile options need tile >= 1 and 0 <= overlap < tile; got tile ", tiles.tile, ", overlap ",
               tiles.overlap);
  KINEMA_CHECK(z.ndim() == 5, "vae", "latent must be [B, z_dim, T, H, W]; got ", shape_str(z.shape()));
  NoGradGuard no_grad;
  int64_t h = z.size(3), w = z.size(4), s = config_.spatial_compression();
  if (h <= tiles.tile && w <= tiles.tile) return decode(z, options);
  VaeRunOptions o = options;
  o.trace = nullptr;
  int64_t stride = tiles.tile - tiles.overlap;
  std::vector<int64_t> ys = tile_starts(h, tiles.tile, stride), xs = tile_starts(w, tiles.tile, stride);
  Tensor out, weight_sum;
  float *acc = nullptr, *wsum = nullptr;
  int64_t BCT = 0, H = h * s, W = w * s;
  for (size_t iy = 0; iy < ys.size(); ++iy) {
    int64_t y0 = ys[iy], y1 = std::min(h, y0 + tiles.tile);
    std::vector<float> wy = axis_weights(y0 * s, y1 * s, iy > 0 ? std::min(h, ys[iy - 1] + tiles.tile) * s : 0,
                                         iy + 1 < ys.size() ? ys[iy + 1] * s : y1 * s);
    for (size_t ix = 0; ix < xs.size(); ++ix) {
      int64_t x0 = xs[ix], x1 = std::min(w, x0 + tiles.tile);
      std::vector<float> wx = axis_weights(x0 * s, x1 * s, ix > 0 ? std::min(w, xs[ix - 1] + tiles.tile) * s : 0,
                                           ix + 1 < xs.size() ? xs[ix + 1] * s : x1 * s);
      Tensor zt = contiguous(slice(slice(z, 3, y0, y1), 4, x0, x1));  // [B, z, T', th, tw]
      Tensor d = contiguous(decode(zt, o));                             // [B, 3, T, th·s, tw·s]
      if (!out.defined()) {
        Shape os = d.shape();
        os[3] = H, os[4] = W;
        out = Tensor::zeros(os);  // [B, 3, T, H, W]
        weight_sum = Tensor::zeros({H, W});
        acc = out.data<float>(), wsum = weight_sum.data<float>();
        BCT = os[0] * os[1] * os[2];
      }
      const float* src = d.data<float>();
      int64_t th = d.size(3), tw = d.size(4);
      for (int64_t i = 0; i < th; ++i)
        for (int64_t j = 0; j < tw; ++j) wsum[(y0 * s + i) * W + x0 * s + j] += wy[size_t(i)] * wx[size_t(j)];
      for (int64_t p = 0; p < BCT; ++p)
        for (int64_t i = 0; i < th; ++i) {
          float* row = acc + (p * H + y0 * s + i) * W + x0 * s;
          const float* in = src + (p * th + i) * tw;
          for (int64_t j = 0; j < tw; ++j) row[j] += wy[size_t(i)] * wx[size_t(j)] * in[j];
        }
    }
  }
  for (int64_t p = 0; p < BCT; ++p)
    for (int64_t q = 0; q < H * W; ++q) acc[p * H * W + q] /= wsum[q];
  return out;  // [B, 3, T, H, W]
}

}  // namespace kinema
