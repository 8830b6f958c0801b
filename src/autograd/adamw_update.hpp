// The AdamW update of one contiguous run of elements: shared by AdamW (whole tensors) and
// ShardedAdamW (one rank's slice of the flattened parameters), so both give the same bits.
#pragma once
#include <cmath>
#include <cstdint>

#include "kinema/optim.hpp"

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

}  // namespace kinema
