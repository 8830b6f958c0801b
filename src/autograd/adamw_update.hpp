// AdamW internals shared by AdamW (whole tensors) and ShardedAdamW (one rank's slice of the
// flattened parameters): the update of a contiguous run of elements, so both give the same bits,
// and the checkpoint format, so either loads what the other saved.
#pragma once
#include <cmath>
#include <cstdint>

#include <string>
#include <vector>

#include "kinema/optim.hpp"
#include "kinema/tensor.hpp"

namespace kinema {

struct AdamWCoefficients {
  float b1, b2, c1, c2, decay, lr, eps;
  // For the step-th update (step counts from 1).
  static AdamWCoefficients at(const AdamWOptions& o, int64_t step) {
    return {o.beta1, o.beta2, 1.f - std::pow(o.beta1, float(step)), 1.f - std::pow(o.beta2, float(step)),
            1.f - o.lr * o.weight_decay, o.lr, o.eps};
  }
};

inline void adamw_update(float* p, const float* g, float* m, float* v, int64_t b, int64_t e,
                         const AdamWCoefficients& k) {
#pragma omp simd
  for (int64_t j = b; j < e; ++j) {
    m[j] = k.b1 * m[j] + (1.f - k.b1) * g[j];
    v[j] = k.b2 * v[j] + (1.f - k.b2) * g[j] * g[j];
    p[j] = p[j] * k.decay - k.lr * (m[j] / k.c1) / (std::sqrt(v[j] / k.c2) + k.eps);
  }
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
