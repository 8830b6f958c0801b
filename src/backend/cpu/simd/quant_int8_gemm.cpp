// The int8 GEMM of linear on q8_0 / q4_0 weights (backend/cpu/quant_int8.hpp) on AVX512-VNNI.
// Intrinsics, not Highway: the installed Highway (1.0.3) has no op for vpdpbusd (u8 x s8 dot
// products of 4, accumulated into int32 lanes: 64 multiply-adds per instruction where an f32
// FMA does 16, at the same rate on this CPU). Only this file is compiled for VNNI, function by
// function (KINEMA_VNNI); callers check cpu_has_int8_dot() first. int8_gemm_ref is its twin.
//
// Layout. The weight is repacked per call, one panel at a time, into tiles of 16 output
// columns; a tile's block (32 k) is 640 bytes: 8 quads of k x 16 columns x 4 bytes (one zmm
// per quad: lane c holds column c's 4 consecutive int8), the 16 scales (f32), and the 16
// corrections -128 * sum(wq). vpdpbusd needs one unsigned operand: activations are stored as
// q + 128, so a block's sum over (q + 128) * w is the true sum plus 128 * sum(w), which the
// correction, the accumulator's start, takes away exactly.
//
// Microkernel: 6 rows x 2 tiles (32 columns). Per block and row, 8 broadcasts of 4 activation
// bytes meet the 2 tiles' quads (16 vpdpbusd), then the int32 sums turn f32 and are scaled by
// x's scale times the tile's scales (cvt, mul, fma per accumulator): 16 of 22 vector ops are
// dot products, so the kernel cannot pass 73% of the VNNI peak. 24 accumulators (12 int32,
// 12 f32), 2 weight vectors, 1 broadcast: 27 of 32 registers.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "backend/cpu/quant_int8.hpp"

#define KINEMA_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")))

// GCC 12's own intrinsics (_mm512_cvtph_ps, _mm512_cvtepi32_ps) start from
// _mm512_undefined_ps(), which -Wmaybe-uninitialized reports once they are inlined here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace kinema {
namespace {

constexpr int64_t kTile = 16;              // output columns per tile (one zmm of int32/f32)
constexpr int64_t kTileBlockBytes = 640;   // 512 bytes of quads, 64 of scales, 64 of corrections
constexpr int64_t kScalesAt = 512, kCorrectionAt = 576;
constexpr int kRows = 6;                   // rows of x per microkernel call
// Blocks of k per packed panel: 16 (512 k) make a panel of two tiles 20 KiB, held in L1 (48 KiB)
// while every row of the row panel streams past it.
constexpr int64_t kChunkBlocks = 16;
// A panel of y, 512 rows x 256 columns of f32 (512 KiB), stays in L2 (2 MiB) with its rows of
// activations (512 x 512 bytes a chunk) while the chunks of k add to it: one pass over y in
// memory instead of one per chunk (bench_quant_linear at K 8960: 1.5x). kRowPanel is a
// multiple of kRows.
constexpr int64_t kRowPanel = 510, kColPanel = 256;

// Rows c and c + 8 of a tile's q8_0 block: lanes 0-7 hold row c's 32 values as dwords, lanes 8-15
// row c + 8's. A row past `cols` reads as zeros and is not touched.
KINEMA_VNNI __m512i two_rows(const uint8_t* p, int64_t row_bytes, int64_t c, int64_t cols) {
  const __m256i lo = _mm256_maskz_loadu_epi32(__mmask8(c < cols ? 0xFF : 0), c < cols ? p + c * row_bytes : p);
  const __m256i hi = _mm256_maskz_loadu_epi32(__mmask8(c + 8 < cols ? 0xFF : 0), c + 8 < cols ? p + (c + 8) * row_bytes : p);
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// 4x4 transposes of dwords within each 128-bit lane: u[d] lane-wise holds dword d of a, b, c, e.
KINEMA_VNNI void transpose4(__m512i a, __m512i b, __m512i c, __m512i e, __m512i u[4]) {
  const __m512i ab_lo = _mm512_unpacklo_epi32(a, b), ab_hi = _mm512_unpackhi_epi32(a, b);
  const __m512i ce_lo = _mm512_unpacklo_epi32(c, e), ce_hi = _mm512_unpackhi_epi32(c, e);
  u[0] = _mm512_unpacklo_epi64(ab_lo, ce_lo), u[1] = _mm512_unpackhi_epi64(ab_lo, ce_lo);
  u[2] = _mm512_unpacklo_epi64(ab_hi, ce_hi), u[3] = _mm512_unpackhi_epi64(ab_hi, ce_hi);
}

// Scales of the tile's rows [0, cols) (w: row 0's block) in f32 at out + kScalesAt, zeros beyond.
KINEMA_VNNI void pack_scales(const uint8_t* w, int64_t row_bytes, int64_t cols, uint8_t* out) {
  alignas(32) uint16_t h[kTile] = {};
  for (int64_t c = 0; c < cols; ++c) std::memcpy(&h[c], w + c * row_bytes, 2);
  _mm512_store_ps(out + kScalesAt, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(h))));
}

// Packs columns [0, cols) (cols <= 16) of one tile, block b, of a q8_0 weight whose row 0 is at
// w, into out (640 bytes, 64-byte aligned). Missing columns get zero weights and scales. The
// 16 x 8 dword transpose is done with shuffles (rows c, c + 8 per register; 4x4 transposes in
// 128-bit lanes; one two-source permute per quad), about twice as fast as 8 gathers.
KINEMA_VNNI void pack_q8_tile(const uint8_t* w, int64_t row_bytes, int64_t cols, int64_t b, uint8_t* out) {
  const uint8_t* p = w + b * 34 + 2;
  __m512i a[4], c[4];  // rows 0-3 (and 8-11), rows 4-7 (and 12-15)
  transpose4(two_rows(p, row_bytes, 0, cols), two_rows(p, row_bytes, 1, cols), two_rows(p, row_bytes, 2, cols),
             two_rows(p, row_bytes, 3, cols), a);
  transpose4(two_rows(p, row_bytes, 4, cols), two_rows(p, row_bytes, 5, cols), two_rows(p, row_bytes, 6, cols),
             two_rows(p, row_bytes, 7, cols), c);
  // a[d]'s lanes: rows 0-3 dword d, rows 0-3 dword d + 4, rows 8-11 d, rows 8-11 d + 4; c[d] the same for
  // rows 4-7 and 12-15. Quad d gathers the first and third lanes of each, quad d + 4 the second and fourth.
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), second = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i sum = _mm512_setzero_si512();
  for (int d = 0; d < 4; ++d) {
    const __m512i q0 = _mm512_permutex2var_epi64(a[d], first, c[d]), q1 = _mm512_permutex2var_epi64(a[d], second, c[d]);
    _mm512_store_si512(out + 64 * d, q0);
    _mm512_store_si512(out + 64 * (d + 4), q1);
    sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum, ones, q0), ones, q1);
  }
  pack_scales(w + b * 34, row_bytes, cols, out);
  _mm512_store_si512(out + kCorrectionAt, _mm512_mullo_epi32(sum, _mm512_set1_epi32(-128)));
}

// Row c's 16 bytes of a tile's q4_0 block; zeros (and no access) past `cols`.
KINEMA_VNNI __m128i q4_row(const uint8_t* p, int64_t row_bytes, int64_t c, int64_t cols) {
  return _mm_maskz_loadu_epi32(__mmask8(c < cols ? 0xF : 0), c < cols ? p + c * row_bytes : p);
}

// Rows g, g + 4, g + 8, g + 12 of a tile's q4_0 block, one per 128-bit lane.
KINEMA_VNNI __m512i four_rows(const uint8_t* p, int64_t row_bytes, int64_t g, int64_t cols) {
  __m512i v = _mm512_castsi128_si512(q4_row(p, row_bytes, g, cols));
  v = _mm512_inserti32x4(v, q4_row(p, row_bytes, g + 4, cols), 1);
  v = _mm512_inserti32x4(v, q4_row(p, row_bytes, g + 8, cols), 2);
  return _mm512_inserti32x4(v, q4_row(p, row_bytes, g + 12, cols), 3);
}

// The same for q4_0 (18-byte blocks: f16 scale, 16 bytes whose low nibbles are elements 0..15
// and high nibbles 16..31, each q - 8): after a 16 x 4 dword transpose, quad d holds dword d's
// low nibbles and quad d + 4 its high nibbles, each minus 8. Missing rows read as zero bytes,
// whose nibbles (0 - 8) are then masked back to 0.
KINEMA_VNNI void pack_q4_tile(const uint8_t* w, int64_t row_bytes, int64_t cols, int64_t b, uint8_t* out) {
  const uint8_t* p = w + b * 18 + 2;
  const __mmask16 valid = __mmask16((1u << cols) - 1);
  __m512i u[4];
  transpose4(four_rows(p, row_bytes, 0, cols), four_rows(p, row_bytes, 1, cols), four_rows(p, row_bytes, 2, cols),
             four_rows(p, row_bytes, 3, cols), u);
  const __m512i ones = _mm512_set1_epi8(1), low = _mm512_set1_epi8(15), eight = _mm512_set1_epi8(8);
  __m512i sum = _mm512_setzero_si512();
  for (int d = 0; d < 4; ++d) {
    const __m512i lo = _mm512_sub_epi8(_mm512_and_si512(u[d], low), eight);
    const __m512i hi = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(u[d], 4), low), eight);
    const __m512i q0 = _mm512_maskz_mov_epi32(valid, lo), q1 = _mm512_maskz_mov_epi32(valid, hi);
    _mm512_store_si512(out + 64 * d, q0);
    _mm512_store_si512(out + 64 * (d + 4), q1);
    sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum, ones, q0), ones, q1);
  }
  pack_scales(w + b * 18, row_bytes, cols, out);
  _mm512_store_si512(out + kCorrectionAt, _mm512_mullo_epi32(sum, _mm512_set1_epi32(-128)));
}

// Rows [0, R) x tiles [0, T) of y += x . w^T over nb packed blocks (tile t's blocks at
// wp + t * tstride). x rows at xq (stride ldx bytes), scales at xd (stride ldd); y starts from
// zero unless `add`; the last tile writes only its first last_cols columns.
template <int R, int T>
KINEMA_VNNI void microkernel(const uint8_t* xq, int64_t ldx, const float* xd, int64_t ldd, const uint8_t* wp,
                             int64_t tstride, int64_t nb, float* y, int64_t ldy, int64_t last_cols, bool add) {
  const __mmask16 last = last_cols >= kTile ? __mmask16(0xFFFF) : __mmask16((1u << last_cols) - 1);
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t)
      acc[r][t] = add ? _mm512_maskz_loadu_ps(t == T - 1 ? last : __mmask16(0xFFFF), y + r * ldy + t * kTile)
                      : _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = wp + b * kTileBlockBytes;
    __m512i dot[R][T];
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) {
      const __m512i c = _mm512_load_si512(wb + t * tstride + kCorrectionAt);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) dot[r][t] = c;
    }
#pragma GCC unroll 8
    for (int q = 0; q < 8; ++q) {
      __m512i wv[T];
#pragma GCC unroll 2
      for (int t = 0; t < T; ++t) wv[t] = _mm512_load_si512(wb + t * tstride + 64 * q);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        int32_t x4;
        std::memcpy(&x4, xq + r * ldx + b * 32 + 4 * q, 4);
        const __m512i xb = _mm512_set1_epi32(x4);
#pragma GCC unroll 2
        for (int t = 0; t < T; ++t) dot[r][t] = _mm512_dpbusd_epi32(dot[r][t], xb, wv[t]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 xs = _mm512_set1_ps(xd[r * ldd + b]);
#pragma GCC unroll 2
      for (int t = 0; t < T; ++t) {
        const __m512 s = _mm512_mul_ps(xs, _mm512_load_ps(wb + t * tstride + kScalesAt));
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r][t]), s, acc[r][t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t)
      _mm512_mask_storeu_ps(y + r * ldy + t * kTile, t == T - 1 ? last : __mmask16(0xFFFF), acc[r][t]);
}

using Microkernel = void (*)(const uint8_t*, int64_t, const float*, int64_t, const uint8_t*, int64_t, int64_t, float*,
                             int64_t, int64_t, bool);

template <int T>
Microkernel microkernel_for(int rows) {
  switch (rows) {
    case 1: return microkernel<1, T>;
    case 2: return microkernel<2, T>;
    case 3: return microkernel<3, T>;
    case 4: return microkernel<4, T>;
    case 5: return microkernel<5, T>;
    default: return microkernel<6, T>;
  }
}

// Packs columns [n, n + cols) (cols <= 32), blocks [b0, b0 + nb) into `out`: tile t's blocks at
// out + t * nb * 640.
KINEMA_VNNI void pack_panel(const Int8GemmDesc& d, int64_t n, int64_t cols, int64_t b0, int64_t nb, uint8_t* out) {
  const int64_t row_bytes = d.k / kQuantBlock * int64_t(block_bytes(d.wt));
  for (int64_t t = 0; t * kTile < cols; ++t) {
    const uint8_t* w = d.w + (n + t * kTile) * row_bytes;
    const int64_t c = std::min(kTile, cols - t * kTile);
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* o = out + (t * nb + b) * kTileBlockBytes;
      if (d.wt == DType::q8_0) pack_q8_tile(w, row_bytes, c, b0 + b, o);
      else pack_q4_tile(w, row_bytes, c, b0 + b, o);
    }
  }
}

// Loops, outermost first (as BLIS orders a GEMM): panels of kColPanel columns and kRowPanel
// rows, whose f32 block of y stays in L2 while chunks of 16 blocks of k go by; units of 32
// columns, packed once per chunk and row panel into an L1-resident panel; groups of 6 rows.
KINEMA_VNNI void gemm(const Int8GemmDesc& d, int64_t m0, int64_t m1, int64_t n0, int64_t n1, uint8_t* scratch) {
  const int64_t nbk = d.k / kQuantBlock;
  for (int64_t c0 = n0; c0 < n1; c0 += kColPanel) {
    const int64_t c1 = std::min(n1, c0 + kColPanel);
    for (int64_t r0 = m0; r0 < m1; r0 += kRowPanel) {
      const int64_t r1 = std::min(m1, r0 + kRowPanel);
      for (int64_t b0 = 0; b0 < nbk; b0 += kChunkBlocks) {
        const int64_t nb = std::min(kChunkBlocks, nbk - b0);
        for (int64_t n = c0; n < c1; n += 2 * kTile) {
          const int64_t cols = std::min(2 * kTile, c1 - n);
          pack_panel(d, n, cols, b0, nb, scratch);
          const bool two = cols > kTile;
          const int64_t last_cols = two ? cols - kTile : cols;
          for (int64_t r = r0; r < r1; r += kRows) {
            const int rows = int(std::min<int64_t>(kRows, r1 - r));
            const Microkernel k = two ? microkernel_for<2>(rows) : microkernel_for<1>(rows);
            k(d.xq + r * d.k + b0 * kQuantBlock, d.k, d.xd + r * nbk + b0, nbk, scratch, nb * kTileBlockBytes, nb,
              d.y + r * d.ldy + n, d.ldy, last_cols, b0 > 0);
          }
        }
      }
    }
  }
}

}  // namespace

static std::atomic<bool> g_int8_dot_disabled{false};  // tests only (int8_dot_force_disabled)

bool cpu_has_int8_dot() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  return has && !g_int8_dot_disabled.load(std::memory_order_relaxed);
}

void int8_dot_force_disabled(bool off) { g_int8_dot_disabled.store(off); }

size_t int8_gemm_scratch_bytes() { return size_t(2 * kChunkBlocks * kTileBlockBytes); }

// Declared without a target attribute (one that differed would make GCC treat the definition
// as another version of the function): the VNNI code is all in gemm().
void int8_gemm_vnni(const Int8GemmDesc& d, int64_t m0, int64_t m1, int64_t n0, int64_t n1, uint8_t* scratch) {
  gemm(d, m0, m1, n0, n1, scratch);
}

}  // namespace kinema
