// The AVX512_BF16 paths of flash attention: the pair GEMM against its scalar twin (exact up to
// f32 summation order), and the bf16 attention kernels against the f32 ones at the sizes the
// op harness does not reach (many key blocks, odd head dims and key counts). Skipped on a CPU
// without bf16 dot products, where attention on bf16 runs the f32 kernels the harness covers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/attention_kernels.hpp"
#include "backend/cpu/dnnl_plans.hpp"
#include "backend/cpu/kernels.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"

namespace kinema {
namespace {

uint16_t bf16_bits(float x) {  // round to nearest even
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return uint16_t((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

Tensor normal(const Shape& shape, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> n;
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = n(gen);
  return Tensor::from_vector(v, shape);
}

// ||got - want|| / ||want||
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) err += std::pow(got[i] - want[i], 2), norm += std::pow(want[i], 2);
  return std::sqrt(err / norm);
}

TEST(GemmBf16Pairs, EqualsTheScalarTwinForEveryRowAndColumnRemainder) {
  if (!cpu_has_bf16_dot()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  for (int64_t M : {1, 7, 8, 13, 96})
    for (int64_t N : {16, 32, 48, 128})
      for (int64_t K2 : {1, 5, 32})
        for (int mode = 0; mode < 4; ++mode) {
          // A as bf16 rows (a_row = lda / 2, a_pair = 1) or as pairs of A^T's rows (1, ld)
          const bool acc = mode & 1, transposed = mode & 2;
          const int64_t lda = 2 * K2 + 6, ldb = N + 16, ldc = N + 16;
          std::vector<uint16_t> A(size_t(std::max(M * lda, 2 * K2 * (M + 3))));
          std::vector<uint32_t> B(size_t(K2 * ldb));
          for (auto& a : A) a = bf16_bits(u(gen));
          for (auto& b : B) b = uint32_t(bf16_bits(u(gen))) | uint32_t(bf16_bits(u(gen))) << 16;
          std::vector<float> C(size_t(M * ldc)), R;
          for (auto& c : C) c = u(gen);
          R = C;
          const uint32_t* a = reinterpret_cast<const uint32_t*>(A.data());
          const int64_t a_row = transposed ? 1 : lda / 2, a_pair = transposed ? M + 3 : 1;
          gemm_bf16_pairs(M, N, K2, a, a_row, a_pair, B.data(), ldb, C.data(), ldc, acc);
          gemm_bf16_pairs_ref(M, N, K2, a, a_row, a_pair, B.data(), ldb, R.data(), ldc, acc);
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < ldc; ++j) {
              const float got = C[size_t(i * ldc + j)], want = R[size_t(i * ldc + j)];
              // past N the kernel must not write
              ASSERT_NEAR(got, want, 1e-5f * (1.f + float(K2)) * (j < N ? 4.f : 0.f))
                  << "M " << M << " N " << N << " K2 " << K2 << " mode " << mode << " at " << i << "," << j;
            }
        }
}

TEST(AttentionBf16, ForwardMatchesTheF32KernelWithinBf16Rounding) {
  if (!cpu_has_bf16_dot()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  struct Case {
    int64_t nq, nk, d;
    bool causal;
  };
  for (const Case& c : {Case{300, 300, 64, false}, Case{97, 515, 40, false}, Case{260, 260, 33, true},
                        Case{130, 1000, 128, false}}) {
    Tensor q = normal({1, 2, c.nq, c.d}, 11), k = normal({1, 2, c.nk, c.d}, 12), v = normal({1, 2, c.nk, c.d}, 13);
    AttentionOptions o;
    o.causal = c.causal;
    // the f32 kernel on the same bf16-rounded inputs: the difference is the bf16 GEMMs alone
    Tensor qb = cast(q, DType::bf16), kb = cast(k, DType::bf16), vb = cast(v, DType::bf16);
    std::vector<float> want = attention(cast(qb, DType::f32), cast(kb, DType::f32), cast(vb, DType::f32), {}, o).to_vector();
    std::vector<float> got = cast(attention(qb, kb, vb, {}, o), DType::f32).to_vector();
    const double e = relative_error(got, want);
    // bf16 keeps 8 bits: the scaled query and the probabilities are rounded once each
    EXPECT_LT(e, 1e-2) << "nq " << c.nq << " nk " << c.nk << " d " << c.d;
    EXPECT_GT(e, 0.0) << "the bf16 kernel did not run";
  }
}

// Gradients of sum(attention(q, k, v) * w) for q, k, v.
std::vector<std::vector<float>> grads(Tensor q, Tensor k, Tensor v, const Tensor& w, const AttentionOptions& o) {
  q.set_requires_grad(), k.set_requires_grad(), v.set_requires_grad();
  backward(sum(mul(cast(attention(q, k, v, {}, o), DType::f32), w)));
  return {cast(q.grad(), DType::f32).to_vector(), cast(k.grad(), DType::f32).to_vector(),
          cast(v.grad(), DType::f32).to_vector()};
}

TEST(AttentionBf16, BackwardMatchesTheF32KernelWithinBf16Rounding) {
  if (!cpu_has_bf16_dot()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  struct Case {
    int64_t nq, nk, d;
    bool causal;
  };
  for (const Case& c : {Case{300, 300, 64, false}, Case{97, 515, 40, false}, Case{261, 261, 33, true},
                        Case{130, 257, 128, false}}) {
    Tensor q = cast(normal({1, 2, c.nq, c.d}, 21), DType::bf16), k = cast(normal({1, 2, c.nk, c.d}, 22), DType::bf16),
           v = cast(normal({1, 2, c.nk, c.d}, 23), DType::bf16), w = normal({1, 2, c.nq, c.d}, 24);
    AttentionOptions o;
    o.causal = c.causal;
    const auto want = grads(cast(q, DType::f32), cast(k, DType::f32), cast(v, DType::f32), w, o);
    const auto got = grads(q, k, v, w, o);
    for (size_t g = 0; g < 3; ++g) {
      const double e = relative_error(got[g], want[g]);
      EXPECT_LT(e, 1e-2) << "d" << "qkv"[g] << " nq " << c.nq << " nk " << c.nk << " d " << c.d;
      EXPECT_GT(e, 0.0) << "the bf16 kernel did not run";
    }
  }
}

// The DiT hands attention f32 q, k, v with bf16_products rather than casting them: the same
// bf16 kernels must run on the same rounded values (forward to the bit when the scale is a
// power of two; the gradients skip only the final rounding of dq, dk, dv to bf16).
TEST(AttentionBf16, Bf16ProductsOnF32InputsAreTheBf16InputsResult) {
  if (!cpu_has_bf16_dot()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  // fresh leaves each time: grads() marks its inputs as requiring gradients
  auto q = [] { return normal({2, 2, 70, 64}, 31); };
  auto k = [] { return normal({2, 2, 90, 64}, 32); };
  auto v = [] { return normal({2, 2, 90, 64}, 33); };
  auto bf = [](const Tensor& t) { return cast(t, DType::bf16); };
  const Tensor w = normal({2, 2, 70, 64}, 34);
  AttentionOptions o;
  const std::vector<float> want = cast(attention(bf(q()), bf(k()), bf(v()), {}, o), DType::f32).to_vector();
  o.bf16_products = true;
  Tensor out = attention(q(), k(), v(), {}, o);
  EXPECT_EQ(out.dtype(), DType::f32);
  // the f32 result is the bf16 one before its final rounding
  EXPECT_LT(relative_error(out.to_vector(), want), 4e-3);
  EXPECT_EQ(cast(cast(out, DType::bf16), DType::f32).to_vector(), want);
  const auto got_grads = grads(q(), k(), v(), w, o);
  o.bf16_products = false;
  const auto want_grads = grads(bf(q()), bf(k()), bf(v()), w, o);
  const auto f32_grads = grads(q(), k(), v(), w, o);  // no bf16 at all: farther away
  for (size_t g = 0; g < 3; ++g) {
    EXPECT_LT(relative_error(got_grads[g], want_grads[g]), 4e-3) << "d" << "qkv"[g];
    EXPECT_GT(relative_error(f32_grads[g], want_grads[g]), 2 * relative_error(got_grads[g], want_grads[g]))
        << "d" << "qkv"[g] << ": bf16_products did not run the bf16 kernels";
  }
}

}  // namespace
}  // namespace kinema
