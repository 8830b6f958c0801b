// Optimizer internals shared by AdamW (whole tensors), ShardedAdamW (one rank's slice of the
// flattened parameters) and the trainers' EMA: the update of a contiguous run of elements, so
// both optimizers give the same bits, and the checkpoint format, so either loads what the
// other saved.
#pragma once
#include <cmath>
#include <cstdint>

#include <string>
#include <vector>

#include "backend/cpu/kernels.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/optim.hpp"
#include "kinema/tensor.hpp"

namespace kinema {

inline AdamWCoeffs adamw_coefficients(const AdamWOptions& o, int64_t step) {  // step counts from 1
  return {o.beta1, o.beta2, 1.f - std::pow(o.beta1, float(step)), 1.f - std::pow(o.beta2, float(step)),
          1.f - o.lr * o.weight_decay, o.lr, o.eps};
}

// Parameter i's coefficients under per-parameter lr multipliers (empty: all 1).
inline AdamWCoeffs adamw_coefficients(AdamWOptions o, int64_t step, const std::vector<float>& lr_scales, size_t i) {
  if (!lr_scales.empty()) o.lr *= lr_scales[i];
  return adamw_coefficients(o, step);
}
// Checks a set_lr_scales argument: one finite, non-negative multiplier per parameter, or none.
inline void check_lr_scales(const std::vector<float>& scales, size_t params, const char* who) {
  check(scales.empty() || scales.size() == params, who, "set_lr_scales needs one multiplier per parameter (",
        params, "); got ", scales.size());
  for (float s : scales) check(std::isfinite(s) && s >= 0, who, "learning-rate multipliers must be finite and >= 0; got ", s);
}

// The optimizer kernels, fast or reference by the context's switch.
inline void adamw_update(float* p, const float* g, float* m, float* v, int64_t b, int64_t e,
                         const AdamWCoeffs& k) {
  (current_context().reference_kernels() ? adamw_update_f32_ref : adamw_update_f32)(
      p + b, g + b, m + b, v + b, e - b, k);
}
inline void ema_update(float* e, const float* p, int64_t n, float decay) {
  (current_context().reference_kernels() ? ema_update_f32_ref : ema_update_f32)(e, p, n, decay);
}
inline double squared_sum(const float* x, int64_t n) {
  return (current_context().reference_kernels() ? squared_sum_f32_ref : squared_sum_f32)(x, n);
}

// The moments of every parameter ("m.i", "v.i" shaped like parameter i) and the step count.
struct AdamWState {
  std::vector<Tensor> m, v;
  int64_t steps = 0;
};
void save_adamw_state(const std::string& path, const AdamWState& state);
// Checks the file holds one (m, v) per parameter, each of its shape; `who` names the optimizer.
AdamWState load_adamw_state(const std::string& path, const std::vector<Tensor>& params, const char* who);

}  // namespace kinema
