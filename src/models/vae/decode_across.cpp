// VAE::decode_across: the causal decode split by latent frames over ranks, with the time cache
// (kinema's TimeCache, Wan's feat_cache) serialised and handed from each rank to the next.
#include <cstring>

#include "kinema/autograd.hpp"
#include "kinema/dist.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/vae.hpp"
#include "models/vae/vae_internal.hpp"

namespace kinema {
namespace {

// [slots, then per slot: started, defined, 5 dims, the values] as floats (dims are small ints).
std::vector<float> pack(const vae::TimeCache& cache) {
  std::vector<float> out{float(cache.slots.size())};
  for (const vae::TimeSlot& s : cache.slots) {
    out.push_back(s.started ? 1.f : 0.f);
    out.push_back(s.frames.defined() ? 1.f : 0.f);
    if (!s.frames.defined()) continue;
    check(s.frames.ndim() == 5, "vae", "a time cache entry is ", shape_str(s.frames.shape()));
    for (int64_t d : s.frames.shape()) out.push_back(float(d));
    std::vector<float> v = contiguous(s.frames).to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

vae::TimeCache unpack(const std::vector<float>& in) {
  vae::TimeCache cache;
  size_t at = 0;
  const size_t n = size_t(in.at(at++));
  for (size_t i = 0; i < n; ++i) {
    vae::TimeSlot s;
    s.started = in.at(at++) != 0.f;
    if (in.at(at++) != 0.f) {
      Shape shape;
      for (int d = 0; d < 5; ++d) shape.push_back(int64_t(in.at(at++)));
      const size_t count = size_t(shape_numel(shape));
      check(at + count <= in.size(), "vae", "a handed-over time cache is truncated");
      s.frames = Tensor::from_vector(std::vector<float>(in.begin() + long(at), in.begin() + long(at + count)), shape);
      at += count;
    }
    cache.slots.push_back(std::move(s));
  }
  return cache;
}

// Rank `from`'s vector to every rank (its length first).
std::vector<float> share(Communicator& ranks, int from, std::vector<float> v) {
  int64_t n = int64_t(v.size());
  ranks.broadcast(&n, sizeof n, from);
  v.resize(size_t(n));
  ranks.broadcast(v.data(), n * int64_t(sizeof(float)), from);
  return v;
}

}  // namespace

Tensor VAE::decode_across(const Tensor& z, Communicator& ranks) const {
  check(z.ndim() == 5 && z.size(1) == config_.z_dim && z.size(2) >= 1, "vae", "latent must be [B, z_dim, T, H, W] with z_dim ",
        config_.z_dim, "; got ", shape_str(z.shape()));
  const int R = ranks.size(), me = ranks.rank();
  const int64_t T = z.size(2);
  NoGradGuard no_grad;
  vae::Run run{*this, {}, {}, false};
  const Tensor x = vae::pointwise_conv(run, "conv2", z);  // per frame: every rank computes it
  std::vector<Tensor> mine;
  for (int q = 0; q < R; ++q) {  // rank q decodes latent frames [T q / R, T (q + 1) / R)
    const int64_t begin = T * q / R, end = T * (q + 1) / R;
    if (q == me) {
      for (int64_t i = begin; i < end; ++i) {
        run.cache.next = 0;
        run.first_chunk = i == 0;
        mine.push_back(vae::decoder_chunk(run, slice(x, 2, i, i + 1)));  // [B, 3, 1 or tc, H, W]
      }
    }
    if (q + 1 < R) {  // the cache after frame `end` goes to rank q + 1
      std::vector<float> cache = share(ranks, q, q == me ? pack(run.cache) : std::vector<float>{});
      if (q + 1 == me) run.cache = unpack(cache);
    }
  }
  // Every rank gets every frame, in order.
  Tensor part = mine.empty() ? Tensor() : contiguous(mine.size() == 1 ? mine[0] : concat(mine, 2));
  std::vector<Tensor> all;
  for (int q = 0; q < R; ++q) {
    std::vector<float> v = share(ranks, q, q == me && part.defined() ? part.to_vector() : std::vector<float>{});
    int64_t frames = part.defined() ? part.size(2) : 0;
    ranks.broadcast(&frames, sizeof frames, q);
    if (frames == 0) continue;
    const Shape s = {z.size(0), 3, frames, z.size(3) * config_.spatial_compression(), z.size(4) * config_.spatial_compression()};
    all.push_back(Tensor::from_vector(v, s));
  }
  return all.size() == 1 ? all[0] : concat(all, 2);
}

}  // namespace kinema
