// Ulysses sequence parallelism (Jacobs et al. 2023, "DeepSpeed Ulysses"): each rank holds a
// contiguous share of the tokens; self-attention trades it, by all-to-all, for every token of
// heads / ranks heads, attends over the whole sequence, and trades back. Everything else in a
// block works token by token and stays local. Chosen over ring attention because it reuses
// the flash attention kernel unchanged and moves 4 activations per block whatever the rank
// count (ring attention moves K/V ranks - 1 times); its limit is heads % ranks == 0. Training
// works too: the exchanges are differentiable, and the ranks' parameter gradients sum to the
// whole gradient (TrainLoopOptions::split = sequence).
#include "models/dit/sequence_parallel.hpp"

#include <algorithm>
#include <cstring>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"

namespace kinema::dit {

SequenceShard SequenceShard::make(Communicator& comm, int64_t tokens, int64_t heads) {
  const int R = comm.size();
  check(heads % R == 0, "dit", "sequence parallelism splits attention heads across ranks: ", heads,
        " heads do not divide among ", R, " ranks (use a rank count that divides ", heads, ")");
  check(tokens >= R, "dit", "sequence parallelism needs at least one token per rank; got ", tokens,
        " tokens for ", R, " ranks");
  SequenceShard s;
  s.comm = &comm;
  for (int q = 0; q < R; ++q) {
    const int64_t size = tokens / R + (q < tokens % R ? 1 : 0);
    s.begins.push_back(s.begins.empty() ? 0 : s.begins.back() + s.sizes.back());
    s.sizes.push_back(size);
  }
  s.tokens = tokens;
  return s;
}

namespace {

// Copies rows [row, row + rows) of each of B slabs (slab = total_rows x width floats) to dst.
void copy_rows(const float* src, int64_t B, int64_t total_rows, int64_t width, int64_t row, int64_t rows,
               float* dst) {
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(dst + b * rows * width, src + (b * total_rows + row) * width, size_t(rows * width) * sizeof(float));
}
void place_rows(const float* src, int64_t B, int64_t total_rows, int64_t width, int64_t row, int64_t rows,
                float* dst) {
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(dst + (b * total_rows + row) * width, src + b * rows * width, size_t(rows * width) * sizeof(float));
}

}  // namespace

// The three exchanges are linear maps whose adjoints are each other (tokens <-> heads) or a
// slice (gather), so their vjps are the opposite exchange; every rank runs backward over the same
// graph in the same order, so the collectives match.
Tensor SequenceShard::tokens_to_heads(const Tensor& x) const {
  const SequenceShard self = *this;
  return record(to_heads(x), "sp_tokens_to_heads", {x},
                [self](const Tensor& g) { return std::vector<Tensor>{self.to_tokens(g)}; });
}

Tensor SequenceShard::heads_to_tokens(const Tensor& x) const {
  const SequenceShard self = *this;
  return record(to_tokens(x), "sp_heads_to_tokens", {x},
                [self](const Tensor& g) { return std::vector<Tensor>{self.to_heads(g)}; });
}

Tensor SequenceShard::gather_tokens(const Tensor& x) const {
  // Every rank computes the same loss from the whole output, so each keeps its tokens' share of
  // the cotangent; summing the ranks' parameter gradients then gives the whole gradient.
  const int64_t b = begin(), n = size();
  return record(gathered(x), "sp_gather_tokens", {x},
                [b, n](const Tensor& g) { return std::vector<Tensor>{contiguous(slice(g, 1, b, b + n))}; });
}

Tensor SequenceShard::to_heads(const Tensor& x) const {
  const int R = comm->size(), r = comm->rank();
  const int64_t B = x.size(0), n = x.size(1), h = x.size(2), hd = x.size(3), hg = h / R;
  check(n == sizes[size_t(r)], "dit", "tokens_to_heads: ", n, " tokens on rank ", r, ", expected ", sizes[size_t(r)]);
  std::vector<float> in = contiguous(x).to_vector(), send(in.size()), recv(size_t(B * tokens * hg * hd));
  std::vector<int64_t> sc(static_cast<size_t>(R)), rc(static_cast<size_t>(R));
  float* out = send.data();
  for (int q = 0; q < R; ++q) {  // head group q of my tokens, [B, n, hg, hd]
    for (int64_t row = 0; row < B * n; ++row)
      std::memcpy(out + row * hg * hd, in.data() + (row * h + q * hg) * hd, size_t(hg * hd) * sizeof(float));
    out += B * n * hg * hd;
    sc[size_t(q)] = B * n * hg * hd, rc[size_t(q)] = B * sizes[size_t(q)] * hg * hd;
  }
  comm->alltoallv(send.data(), sc, recv.data(), rc);
  std::vector<float> full(recv.size());
  const float* at = recv.data();
  for (int q = 0; q < R; ++q) {  // rank q's tokens of my head group
    place_rows(at, B, tokens, hg * hd, begins[size_t(q)], sizes[size_t(q)], full.data());
    at += rc[size_t(q)];
  }
  return Tensor::from_vector(full, {B, tokens, hg, hd});
}

Tensor SequenceShard::to_tokens(const Tensor& x) const {
  const int R = comm->size(), r = comm->rank();
  const int64_t B = x.size(0), hg = x.size(2), hd = x.size(3), h = hg * R, n = sizes[size_t(r)];
  check(x.size(1) == tokens, "dit", "heads_to_tokens: ", x.size(1), " tokens, expected ", tokens);
  std::vector<float> in = contiguous(x).to_vector(), send(in.size()), recv(size_t(B * n * h * hd));
  std::vector<int64_t> sc(static_cast<size_t>(R)), rc(static_cast<size_t>(R));
  float* out = send.data();
  for (int q = 0; q < R; ++q) {  // rank q's tokens of my head group
    copy_rows(in.data(), B, tokens, hg * hd, begins[size_t(q)], sizes[size_t(q)], out);
    sc[size_t(q)] = B * sizes[size_t(q)] * hg * hd, rc[size_t(q)] = B * n * hg * hd;
    out += sc[size_t(q)];
  }
  comm->alltoallv(send.data(), sc, recv.data(), rc);
  std::vector<float> mine(recv.size());
  const float* at = recv.data();
  for (int q = 0; q < R; ++q) {  // head group q of my tokens
    for (int64_t row = 0; row < B * n; ++row)
      std::memcpy(mine.data() + (row * h + q * hg) * hd, at + row * hg * hd, size_t(hg * hd) * sizeof(float));
    at += rc[size_t(q)];
  }
  return Tensor::from_vector(mine, {B, n, h, hd});
}

Tensor SequenceShard::gathered(const Tensor& x) const {
  const int R = comm->size();
  const int64_t B = x.size(0), n = x.size(1), F = x.size(2);
  std::vector<float> in = contiguous(x).to_vector(), send;
  send.reserve(in.size() * size_t(R));
  std::vector<int64_t> sc(static_cast<size_t>(R), B * n * F), rc(static_cast<size_t>(R));
  for (int q = 0; q < R; ++q) send.insert(send.end(), in.begin(), in.end()), rc[size_t(q)] = B * sizes[size_t(q)] * F;
  std::vector<float> recv(size_t(B * tokens * F)), full(recv.size());
  comm->alltoallv(send.data(), sc, recv.data(), rc);
  const float* at = recv.data();
  for (int q = 0; q < R; ++q) {
    place_rows(at, B, tokens, F, begins[size_t(q)], sizes[size_t(q)], full.data());
    at += rc[size_t(q)];
  }
  return Tensor::from_vector(full, {B, tokens, F});
}

}  // namespace kinema::dit
