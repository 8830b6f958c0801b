// Ulysses sequence parallelism (Jacobs et al. 2023, "DeepSpeed Ulysses"): each rank holds a
// contiguous share of the tokens; self-attention trades it, by all-to-all, for every token of
// heads / ranks heads, attends over the whole sequence, and trades back. Everything else in a
// block works token by token and stays local. Chosen over ring attention because it reuses
// the flash attention kernel unchanged and moves 4 activations per block whatever the rank
// count (ring attention moves K/V ranks - 1 times); its limit is heads % ranks == 0.
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

void require_inference(const Tensor& x) {
  check(!(grad_enabled() && x.requires_grad()), "dit",
        "sequence parallelism runs inference only (NoGradGuard); train long clips with data parallelism");
}

}  // namespace

Tensor SequenceShard::tokens_to_heads(const Tensor& x) const {
  require_inference(x);
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

Tensor SequenceShard::heads_to_tokens(const Tensor& x) const {
  require_inference(x);
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

Tensor SequenceShard::gather_tokens(const Tensor& x) const {
  require_inference(x);
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
