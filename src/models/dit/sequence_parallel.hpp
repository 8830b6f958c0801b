// How one DiT forward is split over ranks by tokens (sequence_parallel.cpp says why Ulysses).
#pragma once
#include <vector>

#include "kinema/dist.hpp"
#include "kinema/ops.hpp"

namespace kinema::dit {

struct SequenceShard {
  Communicator* comm = nullptr;
  int64_t tokens = 0;                 // the whole sequence
  std::vector<int64_t> begins, sizes;  // each rank's contiguous share

  static SequenceShard make(Communicator& comm, int64_t tokens, int64_t heads);
  int64_t begin() const { return begins[size_t(comm->rank())]; }
  int64_t size() const { return sizes[size_t(comm->rank())]; }
  // [B, my tokens, heads, hd] -> [B, all tokens, heads / ranks (my group), hd]
  Tensor tokens_to_heads(const Tensor& x) const;
  // the inverse: [B, all tokens, my head group, hd] -> [B, my tokens, heads, hd]
  Tensor heads_to_tokens(const Tensor& x) const;
  // [B, my tokens, F] -> [B, all tokens, F] on every rank
  Tensor gather_tokens(const Tensor& x) const;

 private:  // the exchanges without autograd
  Tensor to_heads(const Tensor& x) const;
  Tensor to_tokens(const Tensor& x) const;
  Tensor gathered(const Tensor& x) const;
};

}  // namespace kinema::dit
