#include <cmath>

#include "autograd/adamw_update.hpp"
#include "backend/cpu/exec.hpp"
#include "backend/cpu/reduce_exec.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/optim.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : params_(std::move(params)), options_(options) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    KINEMA_CHECK(p.dtype() == DType::f32 && p.is_contiguous(), "AdamW", "parameter ", i,
          " must be a contiguous f32 master weight; got ", dtype_name(p.dtype()));
    m_.push_back(Tensor::zeros(p.shape()));
    v_.push_back(Tensor::zeros(p.shape()));
  }
}

void AdamW::step() {
  // A non-finite gradient would poison the weights and both moments for good: refuse it
  // before touching anything, so the caller can skip the batch or lower the learning rate.
  std::vector<Tensor> grads(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    grads[i] = as_f32_contiguous(g);
    KINEMA_CHECK(std::isfinite(squared_sum(grads[i].data<float>(), grads[i].numel())), "AdamW",
                 "gradient of parameter ", i, " ", shape_str(g.shape()),
                 " holds NaN or Inf; the step was not applied");
  }
  ++steps_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& gf = grads[i];
    if (!gf.defined()) continue;
    const AdamWCoeffs k = adamw_coefficients(options_, steps_, lr_scales_, i);
    KINEMA_CHECK(gf.shape() == params_[i].shape(), "AdamW", "gradient ", shape_str(gf.shape()),
          " does not match parameter ", i, " ", shape_str(params_[i].shape()));
    float *p = params_[i].data<float>(), *m = m_[i].data<float>(), *v = v_[i].data<float>();
    const float* gp = gf.data<float>();
    parallel_for(params_[i].numel(), 1 << 14,
                 [&](int64_t b, int64_t e) { adamw_update(p, gp, m, v, b, e, k); });
  }
}

void AdamW::set_lr_scales(std::vector<float> scales) {
  check_lr_scales(scales, params_.size(), "AdamW");
  lr_scales_ = std::move(scales);
}

void AdamW::zero_grad() {
  for (const Tensor& p : params_) p.zero_grad();
}

void save_adamw_state(const std::string& path, const AdamWState& state) {
  TensorFile f;
  for (size_t i = 0; i < state.m.size(); ++i) {
    f.tensors["m." + std::to_string(i)] = state.m[i];
    f.tensors["v." + std::to_string(i)] = state.v[i];
  }
  f.metadata["step"] = std::to_string(state.steps);
  f.metadata["params"] = std::to_string(state.m.size());
  save_tensors(path, f);
}

AdamWState load_adamw_state(const std::string& path, const std::vector<Tensor>& params, const char* who) {
  TensorFile f = load_tensors(path);
  KINEMA_CHECK(f.metadata.count("params") && std::stoul(f.metadata["params"]) == params.size(), who, " ",
               path, " holds state for a different number of parameters");
  AdamWState s;
  for (size_t i = 0; i < params.size(); ++i)
    for (auto [which, dst] : {std::pair<const char*, std::vector<Tensor>*>{"m.", &s.m}, {"v.", &s.v}}) {
      auto it = f.tensors.find(which + std::to_string(i));
      KINEMA_CHECK(it != f.tensors.end() && it->second.shape() == params[i].shape(), who, " ", path,
                   ": missing or mismatched state for parameter ", i);
      dst->push_back(it->second);
    }
  s.steps = std::stoll(f.metadata["step"]);
  return s;
}

void AdamW::save(const std::string& path) const { save_adamw_state(path, {m_, v_, steps_}); }

void AdamW::load(const std::string& path) {
  AdamWState s = load_adamw_state(path, params_, "AdamW");
  m_ = std::move(s.m), v_ = std::move(s.v), steps_ = s.steps;
}

float clip_grad_norm(const std::vector<Tensor>& params, float max_norm) {
  double total = 0;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor gf = as_f32_contiguous(g);
    total += squared_sum(gf.data<float>(), gf.numel());
  }
  float norm = float(std::sqrt(total));
  if (norm > max_norm && norm > 0) {
    float s = max_norm / (norm + 1e-6f);
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (g.defined()) p.set_grad(scale(g, s));
    }
  }
  return norm;
}

}  // namespace kinema
