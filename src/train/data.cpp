// Training data plumbing: the trainer's RNG, the synthetic latent set and the shuffled order.
#include <cmath>
#include <numeric>

#include "kinema/error.hpp"
#include "kinema/train.hpp"

namespace kinema {

// ---- TrainRng: PCG-XSH-RR 32 (pcg-random.org, pcg32_srandom_r / pcg32_random_r) --------------
TrainRng::TrainRng(uint64_t seed, uint64_t stream) {
  state_ = 0;
  inc_ = (stream << 1u) | 1u;
  next_u32();
  state_ += seed;
  next_u32();
}

uint32_t TrainRng::next_u32() {
  uint64_t old = state_;
  state_ = old * 6364136223846793005ULL + inc_;
  uint32_t xorshifted = uint32_t(((old >> 18u) ^ old) >> 27u);
  uint32_t rot = uint32_t(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

float TrainRng::uniform() { return float(next_u32() >> 8) * (1.f / 16777216.f); }

float TrainRng::normal() {
  // Box-Muller; u1 in (0, 1] so log is finite.
  float u1 = 1.f - uniform(), u2 = uniform();
  return std::sqrt(-2.f * std::log(u1)) * std::cos(6.28318530717958647f * u2);
}

// ---- SyntheticLatentDataset -------------------------------------------------------------------
SyntheticLatentDataset::SyntheticLatentDataset(const SyntheticLatentOptions& options)
    : options_(options) {
  const auto& o = options_;
  check(o.count > 0 && o.channels > 0 && o.frames > 0 && o.height > 0 && o.width > 0 &&
            o.text_len > 0 && o.text_dim > 0,
        "SyntheticLatentDataset", "every size must be positive; got count ", o.count, ", latent [",
        o.channels, ", ", o.frames, ", ", o.height, ", ", o.width, "], text [", o.text_len, ", ",
        o.text_dim, "]");
}

LatentSample SyntheticLatentDataset::get(int64_t index) const {
  const auto& o = options_;
  check(index >= 0 && index < o.count, "SyntheticLatentDataset", "index ", index,
        " out of range; expected [0, ", o.count, ")");
  TrainRng rng(o.seed, uint64_t(index) + 1);
  // A per-channel plane wave plus a constant: low-frequency structure with unit-ish variance.
  std::vector<float> lat(size_t(o.channels * o.frames * o.height * o.width));
  size_t n = 0;
  for (int64_t c = 0; c < o.channels; ++c) {
    float a = rng.normal(), ft = rng.uniform() * 2, fh = rng.uniform() * 2, fw = rng.uniform() * 2,
          ph = rng.uniform() * 6.2831853f, bias = 0.5f * rng.normal();
    for (int64_t t = 0; t < o.frames; ++t)
      for (int64_t h = 0; h < o.height; ++h)
        for (int64_t w = 0; w < o.width; ++w)
          lat[n++] = bias + a * std::sin(ft * float(t) + fh * float(h) + fw * float(w) + ph);
  }
  std::vector<float> ctx(size_t(o.text_len * o.text_dim));
  for (float& x : ctx) x = rng.normal();
  LatentSample s;
  s.latent = Tensor::from_vector(lat, {o.channels, o.frames, o.height, o.width});
  s.context = Tensor::from_vector(ctx, {o.text_len, o.text_dim});
  return s;
}

Tensor SyntheticLatentDataset::empty_context() const {
  // A stand-in for the encoding of "": one fixed token.
  TrainRng rng(options_.seed, 0);
  std::vector<float> v(size_t(options_.text_dim));
  for (float& x : v) x = rng.normal();
  return Tensor::from_vector(v, {1, options_.text_dim});
}

// ---- DataOrder ------------------------------------------------------------------------------
DataOrder::DataOrder(int64_t size, uint64_t seed) : size_(size), seed_(seed) {
  check(size > 0, "DataOrder", "the dataset is empty");
}

void DataOrder::build_epoch(int64_t epoch) {
  perm_.resize(size_t(size_));
  std::iota(perm_.begin(), perm_.end(), 0);
  TrainRng rng(seed_ ^ 0x9e3779b97f4a7c15ULL, uint64_t(epoch) + 1);
  for (int64_t i = size_ - 1; i > 0; --i) {  // Fisher-Yates
    int64_t j = int64_t(rng.next_u32() % uint32_t(i + 1));
    std::swap(perm_[size_t(i)], perm_[size_t(j)]);
  }
  epoch_ = epoch;
}

int64_t DataOrder::next() {
  int64_t epoch = position_ / size_;
  if (epoch != epoch_) build_epoch(epoch);
  return perm_[size_t(position_++ % size_)];
}

void DataOrder::seek(int64_t position) {
  check(position >= 0, "DataOrder", "position must be >= 0; got ", position);
  position_ = position;
}

}  // namespace kinema
