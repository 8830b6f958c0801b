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
#include "kinema/tensor.hpp"

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

// bf16 rows (an even number of elements apart) as the dword pairs gemm_bf16_pairs reads.
const uint32_t* rows32(const uint16_t* p) { return reinterpret_cast<const uint32_t*>(p); }

// Pairs of rows 2p, 2p + 1 of x [rows, n] (ld apart) for p < ceil(rows / 2), into out [.., n].
void pair_all_rows(const float* x, int64_t rows, int64_t n, int64_t ld, uint32_t* out) {
  for (int64_t p = 0; p < (rows + 1) / 2; ++p)
    pair_rows_bf16(x + 2 * p * ld, 2 * p + 1 < rows ? x + (2 * p + 1) * ld : nullptr, n, out + p * n);
}

uint32_t* dwords(Tensor& t) { return reinterpret_cast<uint32_t*>(t.raw_data()); }

// delta[i] = rowsum(dO * O): the softmax backward's correction term, [BH * Nq].
std::vector<float> softmax_delta(const AttnDesc& a, const float* do_, const float* o) {
  std::vector<float> delta(static_cast<size_t>(a.batch * a.heads * a.nq));
  for (size_t i = 0; i < delta.size(); ++i) {
    float s = 0;
    for (int64_t c = 0; c < a.d; ++c) s += do_[int64_t(i) * a.dp + c] * o[int64_t(i) * a.dp + c];
    delta[i] = s;
  }
  return delta;
}

// Masked scores S [mq, kBk] of query rows i0.. become P = exp(S - lse) (masked -inf gives 0).
void probabilities_from_lse(const AttnDesc& a, int64_t bh, int64_t i0, int64_t mq, int64_t nkp, float* S,
                            const float* lse) {
  for (int64_t r = 0; r < mq; ++r) {
    float* p = S + r * kBk;
    const float L = lse[bh * a.nq + i0 + r];
    if (L == kNegInf) std::fill(p, p + nkp, 0.f);
    else exp_shift_sum_f32(p, p, nkp, L);
  }
}

// dP [mq, kBk] becomes dS = P * (dP - delta) for query rows i0..
void softmax_grad(const AttnDesc& a, int64_t bh, int64_t i0, int64_t mq, int64_t nkp, const float* P, float* dP,
                  const std::vector<float>& delta) {
  for (int64_t r = 0; r < mq; ++r) {
    const float dl = delta[size_t(bh * a.nq + i0 + r)];
    for (int64_t c = 0; c < nkp; ++c) dP[r * kBk + c] = P[r * kBk + c] * (dP[r * kBk + c] - dl);
  }
}

// Output rows of one query block: acc / l, and the log-sum-exp the backward reads.
void finish_rows(const AttnDesc& a, int64_t bh, int64_t i0, int64_t mq, const float* acc, const float* m,
                 const float* l, float* o, float* lse) {
  for (int64_t r = 0; r < mq; ++r) {
    const float inv = l[r] > 0 ? 1.f / l[r] : 0.f;
    float* out = o + (bh * a.nq + i0 + r) * a.dp;
    for (int64_t c = 0; c < a.dp; ++c) out[c] = acc[r * a.dp + c] * inv;
    lse[bh * a.nq + i0 + r] = l[r] > 0 ? m[r] + std::log(l[r]) : kNegInf;
  }
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
      finish_rows(a, bh, i0, mq, acc.data(), m.data(), l.data(), o, lse);
    }
  }
}

// The same loop with both GEMMs in bf16 (vdpbf16ps), as FlashAttention runs in bf16: q, k and
// v are rounded to bf16 once, the probabilities of each block before P V; scores, the softmax
// and the accumulator stay f32. Packed once: Qb [BH, Nq, Dp] bf16, Kp [BH, ceil(D/2), Nkp]
// and Vp [BH, ceil(Nk/2), Dp] in the dword pairs gemm_bf16_pairs reads.
void attention_forward_bf16(const AttnDesc& a, const float* qs, const float* kt, const float* v,
                            float* o, float* lse) {
  const int64_t BH = a.batch * a.heads, nqb = (a.nq + kBq - 1) / kBq, Dp = a.dp;
  const int64_t kd2 = (a.d + 1) / 2, nk2 = (a.nk + 1) / 2;
  const int threads = current_context().threads();
  // from the caching pool: fresh pages here cost more than the packing itself
  Tensor qb = Tensor::empty({BH * a.nq * Dp}, DType::bf16), kp = Tensor::empty({BH * kd2 * a.nkp}),
         vp = Tensor::empty({BH * nk2 * Dp});
  uint16_t* Qb = reinterpret_cast<uint16_t*>(qb.raw_data());
  const uint32_t *Kp = dwords(kp), *Vp = dwords(vp);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t bh = 0; bh < BH; ++bh) {
    to_bf16_rows(qs + bh * a.nq * Dp, a.nq, Dp, Dp, Qb + bh * a.nq * Dp, Dp);
    pair_all_rows(kt + bh * a.d * a.nkp, a.d, a.nkp, a.nkp, dwords(kp) + bh * kd2 * a.nkp);
    pair_all_rows(v + bh * a.nk * Dp, a.nk, Dp, Dp, dwords(vp) + bh * nk2 * Dp);
  }
#pragma omp parallel num_threads(threads)
  {
    flush_denormals_on_this_thread();
    std::vector<float> S(size_t(kBq * kBk)), acc(size_t(kBq * Dp)), m(kBq), l(kBq);
    std::vector<uint16_t> Pb(size_t(kBq * kBk));
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < BH * nqb; ++task) {
      const int64_t bh = task / nqb, i0 = task % nqb * kBq, mq = std::min(kBq, a.nq - i0);
      const uint16_t* Q = Qb + (bh * a.nq + i0) * Dp;
      const uint32_t* K = Kp + bh * kd2 * a.nkp;
      const uint32_t* V = Vp + bh * nk2 * Dp;
      std::fill(acc.begin(), acc.end(), 0.f);
      std::fill(m.begin(), m.end(), kNegInf);
      std::fill(l.begin(), l.end(), 0.f);
      const int64_t kend = causal_kend(a, i0, mq);
      for (int64_t j0 = 0; j0 < kend; j0 += kBk) {
        const int64_t nk = std::min(kBk, kend - j0), nkp = round_up(nk, kTileAlign), pairs = (nk + 1) / 2;
        gemm_bf16_pairs(mq, nkp, kd2, rows32(Q), Dp / 2, 1, K + j0, a.nkp, S.data(), kBk, false);
        mask_scores(a, bh, i0, mq, j0, nk, nkp, S.data(), kBk);
        online_softmax_block_f32(S.data(), kBk, mq, nk, nkp, m.data(), l.data(), acc.data(), Dp, Dp);
        to_bf16_rows(S.data(), mq, 2 * pairs, kBk, Pb.data(), kBk);
        gemm_bf16_pairs(mq, Dp, pairs, rows32(Pb.data()), kBk / 2, 1, V + j0 / 2 * Dp, Dp, acc.data(), Dp, true);
      }
      finish_rows(a, bh, i0, mq, acc.data(), m.data(), l.data(), o, lse);
    }
  }
}

void attention_backward_f32(const AttnDesc& a, const float* qs, const float* k, const float* kt,
                            const float* vt, const float* o, const float* do_, const float* lse,
                            float* dq, float* dk, float* dv) {
  const int64_t BH = a.batch * a.heads, nkb = (a.nk + kBk - 1) / kBk, Dp = a.dp;
  const int threads = current_context().threads();
  const std::vector<float> delta = softmax_delta(a, do_, o);
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
        probabilities_from_lse(a, bh, i0, mq, nkp, P.data(), lse);
        // dV += P^T dO
        gemm_acc_f32_at(nk, Dp, mq, P.data(), kBk, dO, Dp, dV.data(), Dp);
        // dP = dO V^T; dS = P * (dP - delta)
        std::fill(dP.begin(), dP.begin() + mq * kBk, 0.f);
        gemm_acc_f32(mq, nkp, a.d, dO, Dp, VT, a.nkp, dP.data(), kBk);
        softmax_grad(a, bh, i0, mq, nkp, P.data(), dP.data(), delta);
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

// The backward with its five GEMMs in bf16 (vdpbf16ps), as FlashAttention-2 runs in bf16: P and
// dS are rounded before they meet dO, Q and K; the softmax terms and every accumulator stay
// f32. The operands that a GEMM reduces over queries (P^T dO, dS^T Q) come as pairs of
// consecutive query rows, so nothing is transposed.
void attention_backward_bf16(const AttnDesc& a, const float* qs, const float* k, const float* kt,
                             const float* vt, const float* o, const float* do_, const float* lse,
                             float* dq, float* dk, float* dv) {
  const int64_t BH = a.batch * a.heads, nkb = (a.nk + kBk - 1) / kBk, Dp = a.dp;
  const int64_t d2 = (a.d + 1) / 2, nq2 = (a.nq + 1) / 2, nk2 = (a.nk + 1) / 2;
  const int threads = current_context().threads();
  const std::vector<float> delta = softmax_delta(a, do_, o);
  // bf16 rows of Q and dO (pairs along D); pairs along D of K^T and V^T (columns = keys);
  // pairs of query rows of Q and dO and of key rows of K (columns = D)
  Tensor qb = Tensor::empty({BH * a.nq * Dp}, DType::bf16), dob = Tensor::empty({BH * a.nq * Dp}, DType::bf16);
  Tensor kp = Tensor::empty({BH * d2 * a.nkp}), vtp = Tensor::empty({BH * d2 * a.nkp});
  Tensor qp = Tensor::empty({BH * nq2 * Dp}), dop = Tensor::empty({BH * nq2 * Dp}), kq = Tensor::empty({BH * nk2 * Dp});
  uint16_t* Qb = reinterpret_cast<uint16_t*>(qb.raw_data());
  uint16_t* dOb = reinterpret_cast<uint16_t*>(dob.raw_data());
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t bh = 0; bh < BH; ++bh) {
    to_bf16_rows(qs + bh * a.nq * Dp, a.nq, Dp, Dp, Qb + bh * a.nq * Dp, Dp);
    to_bf16_rows(do_ + bh * a.nq * Dp, a.nq, Dp, Dp, dOb + bh * a.nq * Dp, Dp);
    pair_all_rows(kt + bh * a.d * a.nkp, a.d, a.nkp, a.nkp, dwords(kp) + bh * d2 * a.nkp);
    pair_all_rows(vt + bh * a.d * a.nkp, a.d, a.nkp, a.nkp, dwords(vtp) + bh * d2 * a.nkp);
    pair_all_rows(qs + bh * a.nq * Dp, a.nq, Dp, Dp, dwords(qp) + bh * nq2 * Dp);
    pair_all_rows(do_ + bh * a.nq * Dp, a.nq, Dp, Dp, dwords(dop) + bh * nq2 * Dp);
    pair_all_rows(k + bh * a.nk * Dp, a.nk, Dp, Dp, dwords(kq) + bh * nk2 * Dp);
  }
  const size_t qsize = size_t(BH * a.nq * Dp);
  std::vector<Tensor> dq_private(static_cast<size_t>(threads));
#pragma omp parallel num_threads(threads)
  {
    flush_denormals_on_this_thread();
    Tensor& dqt_tensor = dq_private[size_t(omp_get_thread_num())];
    dqt_tensor = Tensor::zeros({int64_t(qsize)});
    float* dqt = dqt_tensor.data<float>();
    std::vector<float> P(size_t(kBq * kBk)), dP(size_t(kBq * kBk)), dK(size_t(kBk * Dp)), dV(size_t(kBk * Dp));
    std::vector<uint16_t> dSb(size_t(kBq * kBk));
    std::vector<uint32_t> PP(size_t(kBq / 2 * kBk)), dSP(size_t(kBq / 2 * kBk));
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < BH * nkb; ++task) {
      const int64_t bh = task / nkb, j0 = task % nkb * kBk, nk = std::min(kBk, a.nk - j0);
      const int64_t nkp = round_up(nk, kTileAlign), kpairs = (nk + 1) / 2;
      std::fill(dK.begin(), dK.end(), 0.f);
      std::fill(dV.begin(), dV.end(), 0.f);
      const int64_t istart = a.causal ? j0 / kBq * kBq : 0;
      for (int64_t i0 = istart; i0 < a.nq; i0 += kBq) {
        const int64_t mq = std::min(kBq, a.nq - i0), qpairs = (mq + 1) / 2;
        const uint32_t* Q = rows32(Qb + (bh * a.nq + i0) * Dp);
        const uint32_t* dO = rows32(dOb + (bh * a.nq + i0) * Dp);
        gemm_bf16_pairs(mq, nkp, d2, Q, Dp / 2, 1, dwords(kp) + bh * d2 * a.nkp + j0, a.nkp, P.data(), kBk, false);
        mask_scores(a, bh, i0, mq, j0, nk, nkp, P.data(), kBk);
        probabilities_from_lse(a, bh, i0, mq, nkp, P.data(), lse);
        // dV += P^T dO
        pair_all_rows(P.data(), mq, nkp, kBk, PP.data());
        gemm_bf16_pairs(nk, Dp, qpairs, PP.data(), 1, nkp, dwords(dop) + (bh * nq2 + i0 / 2) * Dp, Dp, dV.data(), Dp, true);
        // dP = dO V^T; dS = P * (dP - delta)
        gemm_bf16_pairs(mq, nkp, d2, dO, Dp / 2, 1, dwords(vtp) + bh * d2 * a.nkp + j0, a.nkp, dP.data(), kBk, false);
        softmax_grad(a, bh, i0, mq, nkp, P.data(), dP.data(), delta);
        // dQ += dS K (scaled at the end); dK += dS^T Qs
        to_bf16_rows(dP.data(), mq, 2 * kpairs, kBk, dSb.data(), kBk);
        gemm_bf16_pairs(mq, Dp, kpairs, rows32(dSb.data()), kBk / 2, 1, dwords(kq) + (bh * nk2 + j0 / 2) * Dp, Dp,
                        dqt + (bh * a.nq + i0) * Dp, Dp, true);
        pair_all_rows(dP.data(), mq, nkp, kBk, dSP.data());
        gemm_bf16_pairs(nk, Dp, qpairs, dSP.data(), 1, nkp, dwords(qp) + (bh * nq2 + i0 / 2) * Dp, Dp, dK.data(), Dp, true);
      }
      std::memcpy(dk + (bh * a.nk + j0) * Dp, dK.data(), size_t(nk * Dp) * 4);
      std::memcpy(dv + (bh * a.nk + j0) * Dp, dV.data(), size_t(nk * Dp) * 4);
    }
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < int64_t(qsize); ++i) {
    float s = 0;
    for (const Tensor& t : dq_private) s += t.data<float>()[i];
    dq[i] = s * a.scale;
  }
}

}  // namespace kinema
