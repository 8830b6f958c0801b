// ShardedAdamW and allreduce_gradients: the optimizer side of data-parallel training.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "autograd/adamw_update.hpp"
#include "kinema/dist.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/optim.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {
namespace {

int64_t total_size(const std::vector<Tensor>& params) {
  int64_t n = 0;
  for (const Tensor& p : params) n += p.numel();
  return n;
}

// Every parameter's gradient (zeros where there is none) laid end to end in `flat`.
void flatten_gradients(const std::vector<Tensor>& params, std::vector<float>& flat) {
  int64_t at = 0;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) {
      Tensor gf = contiguous(g.dtype() == DType::f32 ? g : cast(g, DType::f32));
      std::memcpy(flat.data() + at, gf.data<float>(), size_t(p.numel()) * sizeof(float));
    } else {
      std::fill_n(flat.data() + at, p.numel(), 0.f);
    }
    at += p.numel();
  }
}

// Calls f(param index, offset in the parameter, offset in the flat vector, length) for each
// parameter piece overlapping flat range [begin, end).
template <class F>
void for_each_piece(const std::vector<Tensor>& params, int64_t begin, int64_t end, F&& f) {
  int64_t at = 0;
  for (size_t i = 0; i < params.size() && at < end; ++i) {
    const int64_t n = params[i].numel(), lo = std::max(begin, at), hi = std::min(end, at + n);
    if (lo < hi) f(i, lo - at, lo, hi - lo);
    at += n;
  }
}

}  // namespace

void allreduce_gradients(const std::vector<Tensor>& params, Communicator& comm) {
  if (comm.size() == 1) return;
  std::vector<float> flat(size_t(total_size(params)));
  flatten_gradients(params, flat);
  comm.allreduce_sum(flat.data(), int64_t(flat.size()));
  int64_t at = 0;
  for (const Tensor& p : params) {
    std::vector<float> g(flat.begin() + at, flat.begin() + at + p.numel());
    p.set_grad(Tensor::from_vector(g, p.shape()));
    at += p.numel();
  }
}

ShardedAdamW::ShardedAdamW(std::vector<Tensor> params, const AdamWOptions& options, Communicator& comm)
    : params_(std::move(params)), options_(options), comm_(comm) {
  for (size_t i = 0; i < params_.size(); ++i)
    check(params_[i].dtype() == DType::f32 && params_[i].is_contiguous(), "ShardedAdamW", "parameter ",
          i, " must be a contiguous f32 master weight; got ", dtype_name(params_[i].dtype()));
  total_ = total_size(params_);
  block_ = (total_ + comm_.size() - 1) / comm_.size();
  m_.assign(size_t(block_), 0.f);
  v_.assign(size_t(block_), 0.f);
}

int64_t ShardedAdamW::state_bytes() const { return int64_t(m_.size() + v_.size()) * int64_t(sizeof(float)); }

void ShardedAdamW::set_lr_scales(std::vector<float> scales) {
  check_lr_scales(scales, params_.size(), "ShardedAdamW");
  lr_scales_ = std::move(scales);
}

void ShardedAdamW::zero_grad() {
  for (const Tensor& p : params_) p.zero_grad();
}

float ShardedAdamW::step(float max_norm) {
  const int R = comm_.size();
  const int64_t mine = int64_t(comm_.rank()) * block_, mine_end = std::min(total_, mine + block_);
  std::vector<float> flat(size_t(block_ * R), 0.f);
  flatten_gradients(params_, flat);
  comm_.reduce_scatter_sum(flat.data(), block_);
  float* g = flat.data() + mine;  // this rank's block of the summed gradients
  double sumsq = squared_sum(g, mine_end - mine);
  comm_.allreduce_sum(&sumsq, 1);
  const float norm = float(std::sqrt(sumsq));
  check(std::isfinite(norm), "ShardedAdamW",
        "the gradients hold NaN or Inf (global norm ", norm, "); the step was not applied");
  if (norm > max_norm && norm > 0) {
    const float s = max_norm / (norm + 1e-6f);
    for (int64_t j = 0; j < mine_end - mine; ++j) g[j] *= s;
  }
  ++steps_;
  // Update this block in place in the parameters, then share every block with every rank.
  std::vector<float> p(size_t(block_ * R), 0.f);
  for_each_piece(params_, mine, mine_end, [&](size_t i, int64_t off, int64_t at, int64_t n) {
    const AdamWCoeffs k = adamw_coefficients(options_, steps_, lr_scales_, i);
    float* w = params_[i].data<float>() + off;
    adamw_update(w, g + (at - mine), m_.data() + (at - mine), v_.data() + (at - mine), 0, n, k);
    std::memcpy(p.data() + at, w, size_t(n) * sizeof(float));
  });
  comm_.allgather(p.data(), block_);
  for_each_piece(params_, 0, total_, [&](size_t i, int64_t off, int64_t at, int64_t n) {
    std::memcpy(params_[i].data<float>() + off, p.data() + at, size_t(n) * sizeof(float));
  });
  return norm;
}

void ShardedAdamW::save(const std::string& path) const {
  const int R = comm_.size();
  std::vector<float> m(size_t(block_ * R), 0.f), v(m.size(), 0.f);
  std::copy(m_.begin(), m_.end(), m.begin() + comm_.rank() * block_);
  std::copy(v_.begin(), v_.end(), v.begin() + comm_.rank() * block_);
  comm_.allgather(m.data(), block_);
  comm_.allgather(v.data(), block_);
  if (!comm_.is_root()) return;
  AdamWState state{{}, {}, steps_};
  int64_t at = 0;
  for (const Tensor& p : params_) {
    const int64_t n = p.numel();
    state.m.push_back(Tensor::from_vector(std::vector<float>(m.begin() + at, m.begin() + at + n), p.shape()));
    state.v.push_back(Tensor::from_vector(std::vector<float>(v.begin() + at, v.begin() + at + n), p.shape()));
    at += n;
  }
  save_adamw_state(path, state);
}

void ShardedAdamW::load(const std::string& path) {
  const AdamWState state = load_adamw_state(path, params_, "ShardedAdamW");
  const int64_t mine = int64_t(comm_.rank()) * block_, mine_end = std::min(total_, mine + block_);
  std::fill(m_.begin(), m_.end(), 0.f);
  std::fill(v_.begin(), v_.end(), 0.f);
  for_each_piece(params_, mine, mine_end, [&](size_t i, int64_t off, int64_t at, int64_t n) {
    std::vector<float> m = state.m[i].to_vector(), v = state.v[i].to_vector();
    std::copy_n(m.begin() + off, n, m_.begin() + (at - mine));
    std::copy_n(v.begin() + off, n, v_.begin() + (at - mine));
  });
  steps_ = state.steps;
}

}  // namespace kinema
