// Flash attention (Dao et al. 2022, FlashAttention-2 loop order) on the tile GEMM.
#include "backend/cpu/attention_kernels.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backend/cpu/kernels.hpp"
#include "core/denormals.hpp"
#include "kinema/context.hpp"

namespace kinema {
namespace {

constexpr int64_t kBq = 96, kBk = 128;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Adds the mask and causal/padding -inf to one row block of scores S [mq, ld].
void mask_scores(const AttnDesc& a, int64_t bh, int64_t i0, int64_t mq, int64_t j0, int64_t nk,
                 int64_t nkp, float* S, int64_t ld) {
  int64_t b = bh / a.heads, h = bh % a.heads;
  for (int64_t r = 0; r < mq; ++r) {
    float* s = S + r * ld;
    if (a.mask) {
      const float* m = a.mask + b * a.mask_strides[0] + h * a.mask_strides[1] +
                       (i0 + r) * a.mask_strides[2] + j0 * a.mask_strides[3];
      for (int64_t c = 0; c < nk; ++c) s[c] += m[c * a.mask_strides[3]];
    }
    if (a.causal)
      for (int64_t c = std::max<int64_t>(0, i0 + r + 1 - j0); c < nk; ++c) s[c] = kNegInf;
    for (int64_t c = nk; c < nkp; ++c) s[c] = kNegInf;
  }
}

int64_t causal_kend(const AttnDesc& a, int64_t i0, int64_t mq) {
  return a.causal ? std::min(a.nk, i0 + mq) : a.nk;
}

}  // namespace

int64_t attention_key_stride(int64_t nk) {
  const int64_t s = round_up(nk, kTileAlign);
  return s % 256 == 0 ? s + kTileAlign : s;
}

void attention_forward_f32(const AttnDesc& a, const float* qs, const float* kt, const float* v,
                           float* o, float* lse) {
  const int64_t BH = a.batch * a.heads, nqb = (a.nq + kBq - 1) / kBq, Dp = a.dp;
  const int threads = current_context().threads();
#pragma omp parallel num_threads(threads)
  {
    flush_denormals_on_this_thread();
    std::vector<float> S(size_t(kBq * kBk)), acc(size_t(kBq * Dp)), m(kBq), l(kBq);
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < BH * nqb; ++task) {
      const int64_t bh = task / nqb, i0 = task % nqb * kBq, mq = std::min(kBq, a.nq - i0);
      const float* Q = qs + (bh * a.nq + i0) * Dp;
      const float* KT = kt + bh * a.d * a.nkp;
      const float* V = v + bh * a.nk * Dp;
      std::fill(acc.begin(), acc.end(), 0.f);
      std::fill(m.begin(), m.end(), kNegInf);
      std::fill(l.begin(), l.end(), 0.f);
      const int64_t kend = causal_kend(a, i0, mq);
      for (int64_t j0 = 0; j0 < kend; j0 += kBk) {
        const int64_t nk = std::min(kBk, kend - j0), nkp = round_up(nk, kTileAlign);
        gemm_f32(mq, nkp, a.d, Q, Dp, KT + j0, a.nkp, S.data(), kBk);
        mask_scores(a, bh, i0, mq, j0, nk, nkp, S.data(), kBk);
        online_softmax_block_f32(S.data(), kBk, mq, nk, nkp, m.data(), l.data(), acc.data(), Dp, Dp);
        gemm_acc_f32(mq, Dp, nk, S.data(), kBk, V + j0 * Dp, Dp, acc.data(), Dp);
      }
      for (int64_t r = 0; r < mq; ++r) {
        float inv = l[size_t(r)] > 0 ? 1.f / l[size_t(r)] : 0.f;
        float* out = o + (bh * a.nq + i0 + r) * Dp;
        for (int64_t c = 0; c < Dp; ++c) out[c] = acc[size_t(r * Dp + c)] * inv;
        lse[bh * a.nq + i0 + r] = l[size_t(r)] > 0 ? m[size_t(r)] + std::log(l[size_t(r)]) : kNegInf;
      }
    }
  }
}

void attention_backward_f32(const AttnDesc& a, const float* qs, const float* k, const float* kt,
                            const float* vt, const float* o, const float* do_, const float* lse,
                            float* dq, float* dk, float* dv) {
  const int64_t BH = a.batch * a.heads, nkb = (a.nk + kBk - 1) / kBk, Dp = a.dp;
  const int threads = current_context().threads();
  // delta[i] = rowsum(dO * O): the softmax backward's correction term
  std::vector<float> delta(static_cast<size_t>(BH * a.nq));
  for (int64_t i = 0; i < BH * a.nq; ++i) {
    float s = 0;
    for (int64_t c = 0; c < a.d; ++c) s += do_[i * Dp + c] * o[i * Dp + c];
    delta[size_t(i)] = s;
  }
  // each thread accumulates dQ privately (key blocks of one row block run on many threads)
  const size_t qsize = size_t(BH * a.nq * Dp);
  std::vector<std::vector<float>> dq_private(static_cast<size_t>(threads));
#pragma omp parallel num_threads(threads)
  {
    flush_denormals_on_this_thread();
    std::vector<float>& dqt = dq_private[size_t(omp_get_thread_num())];
    dqt.assign(qsize, 0.f);
    std::vector<float> P(size_t(kBq * kBk)), dP(size_t(kBq * kBk)), dK(size_t(kBk * Dp)),
        dV(size_t(kBk * Dp));
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < BH * nkb; ++task) {
      const int64_t bh = task / nkb, j0 = task % nkb * kBk, nk = std::min(kBk, a.nk - j0);
      const int64_t nkp = round_up(nk, kTileAlign);
      const float* KT = kt + bh * a.d * a.nkp + j0;
      const float* VT = vt + bh * a.d * a.nkp + j0;
      const float* K = k + (bh * a.nk + j0) * Dp;
      std::fill(dK.begin(), dK.end(), 0.f);
      std::fill(dV.begin(), dV.end(), 0.f);
      const int64_t istart = a.causal ? j0 / kBq * kBq : 0;
      for (int64_t i0 = istart; i0 < a.nq; i0 += kBq) {
        const int64_t mq = std::min(kBq, a.nq - i0);
        const float* Q = qs + (bh * a.nq + i0) * Dp;
        const float* dO = do_ + (bh * a.nq + i0) * Dp;
        std::fill(P.begin(), P.begin() + mq * kBk, 0.f);
        gemm_acc_f32(mq, nkp, a.d, Q, Dp, KT, a.nkp, P.data(), kBk);
        mask_scores(a, bh, i0, mq, j0, nk, nkp, P.data(), kBk);
        for (int64_t r = 0; r < mq; ++r) {
          float* p = P.data() + r * kBk;
          float L = lse[bh * a.nq + i0 + r];
          if (L == kNegInf) std::fill(p, p + nkp, 0.f);
          else exp_shift_sum_f32(p, p, nkp, L);  // masked -inf entries become 0
        }
        // dV += P^T dO
        gemm_acc_f32_at(nk, Dp, mq, P.data(), kBk, dO, Dp, dV.data(), Dp);
        // dP = dO V^T; dS = P * (dP - delta)
        std::fill(dP.begin(), dP.begin() + mq * kBk, 0.f);
        gemm_acc_f32(mq, nkp, a.d, dO, Dp, VT, a.nkp, dP.data(), kBk);
        for (int64_t r = 0; r < mq; ++r) {
          float dl = delta[size_t(bh * a.nq + i0 + r)];
          for (int64_t c = 0; c < nkp; ++c)
            dP[size_t(r * kBk + c)] = P[size_t(r * kBk + c)] * (dP[size_t(r * kBk + c)] - dl);
        }
        // dQ += dS K (scaled at the end); dK += dS^T Qs
        gemm_acc_f32(mq, Dp, nk, dP.data(), kBk, K, Dp, dqt.data() + (bh * a.nq + i0) * Dp, Dp);
        gemm_acc_f32_at(nk, Dp, mq, dP.data(), kBk, Q, Dp, dK.data(), Dp);
      }
      std::memcpy(dk + (bh * a.nk + j0) * Dp, dK.data(), size_t(nk * Dp) * 4);
      std::memcpy(dv + (bh * a.nk + j0) * Dp, dV.data(), size_t(nk * Dp) * 4);
    }
  }
  for (size_t i = 0; i < qsize; ++i) {
    float s = 0;
    for (const auto& t : dq_private) s += t[i];
    dq[i] = s * a.scale;
  }
}

}  // namespace kinema
