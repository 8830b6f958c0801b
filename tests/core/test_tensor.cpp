// Tensor layout, views and the allocator pool.
#include <gtest/gtest.h>

#include <cmath>

#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/ops.hpp"

namespace kinema {
namespace {

Tensor iota(const Shape& s) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  return Tensor::from_vector(v, s);
}

TEST(Tensor, ViewsShareStorageAndIndexCorrectly) {
  Tensor x = iota({2, 3, 4});
  Tensor t = transpose(x, 0, 2);  // [4, 3, 2]
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.storage(), x.storage());
  EXPECT_FALSE(t.is_contiguous());
  std::vector<float> v = t.to_vector();
  // t[i][j][k] = x[k][j][i] = k*12 + j*4 + i
  EXPECT_EQ(v[(1 * 3 + 2) * 2 + 1], 1 * 12 + 2 * 4 + 1);
  Tensor s = slice(x, 1, 1, 3);  // [2, 2, 4]
  EXPECT_EQ(s.to_vector()[0], 4.f);
  EXPECT_EQ(s.storage(), x.storage());
  Tensor r = reshape(x, {6, 4});
  EXPECT_EQ(r.storage(), x.storage());  // contiguous: reshaped without a copy
  Tensor rc = reshape(t, {24});         // strided: copied
  EXPECT_NE(rc.storage(), x.storage());
  EXPECT_EQ(rc.to_vector()[1], 12.f);
}

TEST(Tensor, ExpandBroadcastsWithoutCopy) {
  Tensor x = iota({3, 1});
  Tensor e = expand(x, {2, 3, 4});
  EXPECT_EQ(e.storage(), x.storage());
  std::vector<float> v = e.to_vector();
  EXPECT_EQ(v[0], 0.f);
  EXPECT_EQ(v[4 * 2 + 3], 2.f);
  EXPECT_EQ(v[12 + 4 + 1], 1.f);
}

TEST(Tensor, Bf16StorageRoundsAndReadsBack) {
  Tensor x = Tensor::from_vector({1.f, 1.00390625f, -3.5f, 1e-3f}, {4}, DType::bf16);
  std::vector<float> v = x.to_vector();
  EXPECT_EQ(v[0], 1.f);
  EXPECT_EQ(v[1], 1.f);  // 1 + 2^-8 ties to even in bf16
  EXPECT_EQ(v[2], -3.5f);
  EXPECT_NEAR(v[3], 1e-3f, 1e-5f);
}

TEST(Pool, FreedBuffersAreReused) {
  Context ctx;
  ContextScope scope(ctx);
  { Tensor a = Tensor::empty({1000, 1000}); }
  uint64_t misses = ctx.stats().pool_misses;
  { Tensor b = Tensor::empty({1000, 1000}); }
  EXPECT_EQ(ctx.stats().pool_misses, misses);
  EXPECT_GE(ctx.stats().pool_hits, 1u);
}

TEST(Context, ThreadCountAndKernelSwitchAreScoped) {
  Context ctx({.threads = 1});
  EXPECT_EQ(ctx.threads(), 1);
  {
    ContextScope scope(ctx);
    EXPECT_EQ(&current_context(), &ctx);
    ReferenceKernelsScope ref;
    EXPECT_TRUE(current_context().reference_kernels());
    Tensor y = add(iota({4}), iota({4}));
    EXPECT_EQ(y.to_vector()[3], 6.f);
  }
  EXPECT_NE(&current_context(), &ctx);
  EXPECT_FALSE(ctx.reference_kernels());
}

TEST(Context, ResultsDoNotDependOnThreadCount) {
  Tensor a = iota({64, 96}), b = iota({96, 80});
  std::vector<float> one, two;
  {
    Context c1({.threads = 1});
    ContextScope s(c1);
    one = softmax(scale(matmul(a, b), 1e-6f)).to_vector();
  }
  {
    Context c2({.threads = 2});
    ContextScope s(c2);
    two = softmax(scale(matmul(a, b), 1e-6f)).to_vector();
  }
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) ASSERT_NEAR(one[i], two[i], 1e-6f * (1 + std::fabs(one[i])));
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor w = iota({3}).set_requires_grad();
  Tensor x = Tensor::from_vector({1.f, 2.f, 3.f}, {3});
  backward(sum(mul(w, x)));
  backward(sum(mul(w, x)));
  std::vector<float> g = w.grad().to_vector();
  EXPECT_EQ(g, (std::vector<float>{2.f, 4.f, 6.f}));
  w.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

TEST(Autograd, CheckpointGivesTheSameGradientsAsPlainBackward) {
  Tensor w1 = Tensor::from_vector({0.5f, -1.f, 2.f, 0.25f, 1.5f, -0.75f}, {2, 3}).set_requires_grad();
  Tensor x = Tensor::from_vector({1.f, -2.f, 0.5f, 3.f}, {2, 2}).set_requires_grad();
  auto block = [&](const std::vector<Tensor>& in) { return gelu(matmul(tanh(in[0]), w1)); };
  backward(sum(square(block({x}))));
  std::vector<float> gw = w1.grad().to_vector(), gx = x.grad().to_vector();
  w1.zero_grad();
  x.zero_grad();
  backward(sum(square(checkpoint(block, {x}))));
  std::vector<float> gw2 = w1.grad().to_vector(), gx2 = x.grad().to_vector();
  for (size_t i = 0; i < gw.size(); ++i) EXPECT_FLOAT_EQ(gw[i], gw2[i]);
  for (size_t i = 0; i < gx.size(); ++i) EXPECT_FLOAT_EQ(gx[i], gx2[i]);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor w = iota({3}).set_requires_grad();
  NoGradGuard ng;
  Tensor y = mul(w, w);
  EXPECT_FALSE(y.requires_grad());
}

}  // namespace
}  // namespace kinema

namespace kinema {
namespace {

// Outputs above 4 MiB take the streaming-store path; the op harness's small cases never do.
TEST(Elementwise, LargeOutputsMatchTheReferenceKernels) {
  const int64_t n = (int64_t(1) << 21) + 37;
  std::vector<float> va(static_cast<size_t>(n + 1)), vb(static_cast<size_t>(n + 1));
  for (int64_t i = 0; i <= n; ++i) {
    va[size_t(i)] = std::sin(0.001f * float(i));
    vb[size_t(i)] = 1.5f + std::cos(0.002f * float(i));
  }
  // slices start one element in, so the output's first store is unaligned too
  Tensor a = slice(Tensor::from_vector(va, {n + 1}), 0, 1, n + 1);
  Tensor b = slice(Tensor::from_vector(vb, {n + 1}), 0, 1, n + 1);
  auto run = [&] {
    return std::vector<std::vector<float>>{add(a, b).to_vector(), div(a, b).to_vector(),
                                           gelu(a).to_vector(), mul(a, Tensor::scalar(3.f)).to_vector()};
  };
  std::vector<std::vector<float>> fast = run(), ref;
  {
    ReferenceKernelsScope use_ref;
    ref = run();
  }
  for (size_t k = 0; k < fast.size(); ++k)
    for (size_t i = 0; i < fast[k].size(); ++i)
      ASSERT_NEAR(fast[k][i], ref[k][i], 1e-5f * (1 + std::fabs(ref[k][i]))) << "output " << k << " at " << i;
}

}  // namespace
}  // namespace kinema
