// Reference attention: the whole score matrix per (batch, head), in double. O(N^2) memory,
// which is exactly what the fast kernel avoids; it exists to check it.
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/attention_kernels.hpp"

namespace kinema {
namespace {

// P [nq, nk] = softmax(Qs K^T + mask) for one (batch, head).
std::vector<double> probabilities(const AttnDesc& a, int64_t bh, const float* qs, const float* kt,
                                  float* lse = nullptr) {
  std::vector<double> P(size_t(a.nq * a.nk));
  int64_t b = bh / a.heads, h = bh % a.heads;
  for (int64_t i = 0; i < a.nq; ++i) {
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < a.nk; ++j) {
      double s = 0;
      for (int64_t c = 0; c < a.d; ++c)
        s += double(qs[(bh * a.nq + i) * a.dp + c]) * kt[(bh * a.d + c) * a.nkp + j];
      if (a.mask)
        s += a.mask[b * a.mask_strides[0] + h * a.mask_strides[1] + i * a.mask_strides[2] +
                    j * a.mask_strides[3]];
      if (a.causal && j > i) s = -std::numeric_limits<double>::infinity();
      P[size_t(i * a.nk + j)] = s;
      mx = std::fmax(mx, s);
    }
    double sum = 0;
    for (int64_t j = 0; j < a.nk; ++j) sum += P[size_t(i * a.nk + j)] = std::exp(P[size_t(i * a.nk + j)] - mx);
    for (int64_t j = 0; j < a.nk; ++j) P[size_t(i * a.nk + j)] /= sum;
    if (lse) lse[bh * a.nq + i] = float(mx + std::log(sum));
  }
  return P;
}

}  // namespace

void attention_forward_f32_ref(const AttnDesc& a, const float* qs, const float* kt,
                               const float* v, float* o, float* lse) {
  for (int64_t bh = 0; bh < a.batch * a.heads; ++bh) {
    std::vector<double> P = probabilities(a, bh, qs, kt, lse);
    for (int64_t i = 0; i < a.nq; ++i) {
      for (int64_t c = 0; c < a.dp; ++c) {
        double s = 0;
        for (int64_t j = 0; j < a.nk; ++j) s += P[size_t(i * a.nk + j)] * v[(bh * a.nk + j) * a.dp + c];
        o[(bh * a.nq + i) * a.dp + c] = float(s);
      }
    }
  }
}

void attention_backward_f32_ref(const AttnDesc& a, const float* qs, const float* k,
                                const float* kt, const float* vt, const float* o,
                                const float* do_, const float* lse, float* dq, float* dk,
                                float* dv) {
  (void)o;
  (void)lse;
  for (int64_t bh = 0; bh < a.batch * a.heads; ++bh) {
    std::vector<double> P = probabilities(a, bh, qs, kt);
    std::vector<double> dS(P.size());
    for (int64_t i = 0; i < a.nq; ++i) {
      std::vector<double> dP(size_t(a.nk));
      double dot = 0;
      for (int64_t j = 0; j < a.nk; ++j) {
        double s = 0;
        for (int64_t c = 0; c < a.d; ++c)
          s += double(do_[(bh * a.nq + i) * a.dp + c]) * vt[(bh * a.d + c) * a.nkp + j];
        dP[size_t(j)] = s;
        dot += s * P[size_t(i * a.nk + j)];
      }
      for (int64_t j = 0; j < a.nk; ++j) dS[size_t(i * a.nk + j)] = P[size_t(i * a.nk + j)] * (dP[size_t(j)] - dot);
    }
    for (int64_t i = 0; i < a.nq; ++i)
      for (int64_t c = 0; c < a.dp; ++c) {
        double s = 0;
        for (int64_t j = 0; j < a.nk; ++j) s += dS[size_t(i * a.nk + j)] * k[(bh * a.nk + j) * a.dp + c];
        dq[(bh * a.nq + i) * a.dp + c] = float(s * a.scale);
      }
    for (int64_t j = 0; j < a.nk; ++j)
      for (int64_t c = 0; c < a.dp; ++c) {
        double sk = 0, sv = 0;
        for (int64_t i = 0; i < a.nq; ++i) {
          sk += dS[size_t(i * a.nk + j)] * qs[(bh * a.nq + i) * a.dp + c];
          sv += P[size_t(i * a.nk + j)] * do_[(bh * a.nq + i) * a.dp + c];
        }
        dk[(bh * a.nk + j) * a.dp + c] = float(sk);
        dv[(bh * a.nk + j) * a.dp + c] = float(sv);
      }
  }
}

}  // namespace kinema
