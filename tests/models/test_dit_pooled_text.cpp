// DiTConfig::pooled_text (kinema's addition to the Wan DiT): the caption's mean token, through
// text_pool, joins the time embedding. At zero it changes nothing (warm starts), it reads only
// the valid tokens, and its gradients agree with finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "dit_test_util.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"

namespace kinema::test {
namespace {

DiTConfig pooled_config() {
  DiTConfig c = tiny_dit_config();
  c.pooled_text = true;
  return c;
}

Tensor run(const DiT& m, const Tensor& context, const std::vector<int64_t>& lens = {}) {
  DiTForwardOptions o;
  o.context_lens = lens;
  const DiTConfig& c = m.config();
  return m.forward(seeded({2, c.in_dim, 3, 4, 6}, 1), Tensor::from_vector({250.f, 800.f}, {2}), context, o);
}

TEST(DiTPooledText, EveryParameterGetsAFiniteNonZeroGradient) {
  DiT m = DiT::init_random(pooled_config(), 5, DiTInit::random);
  ASSERT_TRUE(m.weights().count("text_pool.weight"));
  Tensor y = run(m, seeded({2, 6, m.config().text_dim}, 2));
  backward(mse_loss(y, seeded(y.shape(), 3)));
  expect_gradients_everywhere(m.parameters(), dit_parameter_shapes(m.config()));
}

TEST(DiTPooledText, AtZeroTheModelComputesWhatItDidWithoutIt) {
  const DiT plain = DiT::init_random(tiny_dit_config(), 7, DiTInit::random);
  const DiT pooled = grown_at_zero(plain, pooled_config());
  EXPECT_TRUE(pooled.config().pooled_text);
  EXPECT_FALSE(plain.config().pooled_text);
  const Tensor ctx = seeded({2, 6, plain.config().text_dim}, 4);
  EXPECT_EQ(run(plain, ctx).to_vector(), run(pooled, ctx).to_vector());
  // Non-zero, it changes the output: the path is live.
  TensorFile f = pooled.to_tensors();
  const int64_t D = plain.config().dim;
  f.tensors["text_pool.weight"] = seeded({D, D}, 9);
  EXPECT_NE(run(DiT::from_tensors(f), ctx).to_vector(), run(plain, ctx).to_vector());
}

TEST(DiTPooledText, ReadsOnlyTheValidTokens) {
  const DiT m = DiT::init_random(pooled_config(), 8, DiTInit::random);
  const int64_t D = m.config().text_dim;
  const Tensor short_ctx = seeded({2, 4, D}, 5);
  // The same 4 tokens, then 3 of garbage, masked by context_lens.
  const Tensor padded = concat({short_ctx, scale(seeded({2, 3, D}, 6), 50.f)}, 1);
  const std::vector<float> a = run(m, short_ctx).to_vector(), b = run(m, padded, {4, 4}).to_vector();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5f + 1e-5f * std::fabs(a[i])) << i;
  EXPECT_NE(run(m, padded).to_vector(), a);  // unmasked, the garbage counts
}

// d(sum(y * r))/d(p) against central differences, for entries of text_pool and the context.
TEST(DiTPooledText, GradientsMatchFiniteDifferences) {
  DiT m = DiT::init_random(pooled_config(), 11, DiTInit::random);
  Tensor ctx = seeded({2, 6, m.config().text_dim}, 12).set_requires_grad();
  const Tensor r = seeded({2, m.config().out_dim, 3, 4, 6}, 13);
  auto objective = [&] { return sum(mul(run(m, ctx, {6, 3}), r)); };
  backward(objective());
  auto central = [&](Tensor& p, int64_t i) { return central_difference([&] { return objective().item(); }, p, i); };
  const Tensor& w = m.weight("text_pool.weight");
  const std::vector<float> gw = w.grad().to_vector(), gc = ctx.grad().to_vector();
  Tensor wt = w;
  for (int64_t i : {0L, 17L, 100L, 255L}) {
    const double fd = central(wt, i);
    EXPECT_NEAR(gw[size_t(i)], fd, 2e-3 + 2e-2 * std::fabs(fd)) << "text_pool.weight[" << i << "]";
  }
  const int64_t L = 6, T = m.config().text_dim;
  for (int64_t i : {3L, 2 * T + 7, L * T + 5, L * T + 2 * T + 1}) {  // valid tokens of samples 0 and 1
    const double fd = central(ctx, i);
    EXPECT_NEAR(gc[size_t(i)], fd, 2e-3 + 2e-2 * std::fabs(fd)) << "context[" << i << "]";
  }
  EXPECT_EQ(gc[size_t(L * T + 4 * T + 1)], 0.f);  // sample 1's token 4 is past its length 3
}

}  // namespace
}  // namespace kinema::test
