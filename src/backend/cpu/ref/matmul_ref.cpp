#include "backend/cpu/dnnl_plans.hpp"
#include "backend/cpu/kernels.hpp"

namespace kinema {

void matmul_f32_ref(const MatmulDesc& d, const float* a, const float* b, float* c) {
  for (int64_t p = 0; p < d.batch; ++p)
    for (int64_t i = 0; i < d.m; ++i)
      for (int64_t j = 0; j < d.n; ++j) {
        double s = 0;
        for (int64_t l = 0; l < d.k; ++l)
          s += double(a[p * d.a_strides[0] + i * d.a_strides[1] + l * d.a_strides[2]]) *
               double(b[p * d.b_strides[0] + l * d.b_strides[1] + j * d.b_strides[2]]);
        float& out = c[(p * d.m + i) * d.n + j];
        out = d.accumulate ? float(out + s) : float(s);
      }
}

}  // namespace kinema
