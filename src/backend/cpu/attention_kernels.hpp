// Flash attention on packed f32 buffers (see ops/attention.cpp for the packing):
//   qs [BH, Nq, Dp]  queries pre-multiplied by the softmax scale
//   k  [BH, Nk, Dp]  keys, kt [BH, D, Nkp] keys transposed
//   v  [BH, Nk, Dp]  values, vt [BH, D, Nkp] values transposed
//   Dp = D rounded up to kTileAlign, Nkp = attention_key_stride(Nk) >= Nk; padding is zero.
// The forward keeps the row log-sum-exp so the backward can recompute P block by block;
// neither materialises the Nq x Nk matrix.
#pragma once
#include <cstdint>

namespace kinema {

struct AttnDesc {
  int64_t batch = 1, heads = 1, nq = 0, nk = 0, d = 0, dp = 0, nkp = 0;
  float scale = 1.f;
  bool causal = false;
  const float* mask = nullptr;     // additive, f32, read with the strides below
  int64_t mask_strides[4] = {0, 0, 0, 0};  // b, h, q, k (0 = broadcast)
};

// Nk rounded up to kTileAlign, plus kTileAlign where that is a multiple of 256 floats: rows
// of kt and vt a multiple of 1 KiB apart fall in the same cache sets, so a key block's rows
// evicted each other (Nk = 4096: the score GEMM ran ~25% slower).
int64_t attention_key_stride(int64_t nk);

// o [BH, Nq, Dp], lse [BH, Nq]
void attention_forward_f32(const AttnDesc& a, const float* qs, const float* kt, const float* v,
                           float* o, float* lse);
// The same on AVX512_BF16 with bf16 GEMMs (only where cpu_has_bf16_dot()).
void attention_forward_bf16(const AttnDesc& a, const float* qs, const float* kt, const float* v,
                            float* o, float* lse);
void attention_forward_f32_ref(const AttnDesc& a, const float* qs, const float* kt,
                               const float* v, float* o, float* lse);
// do_ and o [BH, Nq, Dp]; writes dq [BH, Nq, Dp], dk and dv [BH, Nk, Dp] (overwritten).
void attention_backward_f32(const AttnDesc& a, const float* qs, const float* k, const float* kt,
                            const float* vt, const float* o, const float* do_, const float* lse,
                            float* dq, float* dk, float* dv);
void attention_backward_bf16(const AttnDesc& a, const float* qs, const float* k, const float* kt,
                             const float* vt, const float* o, const float* do_, const float* lse,
                             float* dq, float* dk, float* dv);
void attention_backward_f32_ref(const AttnDesc& a, const float* qs, const float* k,
                                const float* kt, const float* vt, const float* o,
                                const float* do_, const float* lse, float* dq, float* dk,
                                float* dv);

}  // namespace kinema
