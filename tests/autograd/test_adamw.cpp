// AdamW against torch.optim.AdamW, and resuming from saved optimizer state.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/optim.hpp"

namespace kinema {
namespace {

std::string join(const std::vector<float>& v) {
  std::ostringstream os;
  os.precision(9);
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  return os.str();
}

std::vector<float> run_torch(const std::vector<float>& p, const std::vector<float>& t,
                             const std::vector<float>& c, float lr, float wd, int steps) {
  std::string cmd = std::string(KINEMA_PYTHON) + " " + KINEMA_SOURCE_DIR +
                    "/tests/autograd/adamw_oracle.py " + join(p) + " " + join(t) + " " + join(c) +
                    " " + std::to_string(lr) + " " + std::to_string(wd) + " " + std::to_string(steps);
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (fgets(buf, sizeof buf, f)) out += buf;
  EXPECT_EQ(pclose(f), 0) << out;
  std::vector<float> r;
  std::stringstream ss(out);
  for (std::string tok; std::getline(ss, tok, ',');) r.push_back(std::stof(tok));
  return r;
}

void train(AdamW& opt, Tensor& p, const Tensor& t, const Tensor& c, int steps) {
  for (int i = 0; i < steps; ++i) {
    backward(sum(mul(square(sub(p, t)), c)));
    opt.step();
    opt.zero_grad();
  }
}

TEST(AdamW, MatchesTorchOptimAdamW) {
  std::vector<float> p0{0.5f, -1.f, 2.f, 0.f, 3.f}, t{1.f, 1.f, -1.f, 0.5f, 3.f}, c{1.f, 0.5f, 2.f, 3.f, 1.f};
  Tensor p = Tensor::from_vector(p0, {5}).set_requires_grad();
  AdamW opt({p}, {.lr = 0.05f, .weight_decay = 0.1f});
  train(opt, p, Tensor::from_vector(t, {5}), Tensor::from_vector(c, {5}), 20);
  std::vector<float> want = run_torch(p0, t, c, 0.05f, 0.1f, 20), got = p.to_vector();
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 2e-5f) << i;
}

TEST(AdamW, ResumingFromSavedStateMatchesAnUninterruptedRun) {
  Tensor t = Tensor::from_vector({1, 2, 3}, {3}), c = Tensor::from_vector({1, 1, 2}, {3});
  Tensor a = Tensor::from_vector({0, 0, 0}, {3}).set_requires_grad();
  AdamW oa({a}, {.lr = 0.1f});
  train(oa, a, t, c, 10);

  Tensor b = Tensor::from_vector({0, 0, 0}, {3}).set_requires_grad();
  AdamW ob({b}, {.lr = 0.1f});
  train(ob, b, t, c, 4);
  std::string path = (std::filesystem::temp_directory_path() / "kinema-adamw.safetensors").string();
  ob.save(path);
  Tensor b2 = Tensor::from_vector(b.to_vector(), {3}).set_requires_grad();
  AdamW resumed({b2}, {.lr = 0.1f});
  resumed.load(path);
  EXPECT_EQ(resumed.steps(), 4);
  train(resumed, b2, t, c, 6);
  EXPECT_EQ(a.to_vector(), b2.to_vector());  // bit-identical
}

TEST(AdamW, LrScalesActAsPerParameterLearningRates) {
  Tensor t = Tensor::from_vector({1, 2, 3}, {3}), c = Tensor::from_vector({1, 1, 2}, {3});
  auto fresh = [] { return Tensor::from_vector({0.5f, -1.f, 2.f}, {3}).set_requires_grad(); };
  // Three copies of one parameter: multiplier 2.5, 0 and 1 against plain runs at lr x 2.5 and lr.
  Tensor a = fresh(), b = fresh(), d = fresh(), ref_a = fresh(), ref_d = fresh();
  const AdamWOptions o{.lr = 0.05f, .weight_decay = 0.1f};
  AdamW scaled({a, b, d}, o);
  scaled.set_lr_scales({2.5f, 0.f, 1.f});
  AdamW plain_a({ref_a}, {.lr = 0.05f * 2.5f, .weight_decay = 0.1f}), plain_d({ref_d}, o);
  for (int i = 0; i < 7; ++i) {
    for (const Tensor& p : {a, b, d}) backward(sum(mul(square(sub(p, t)), c)));
    scaled.step();
    scaled.zero_grad();
  }
  train(plain_a, ref_a, t, c, 7);
  train(plain_d, ref_d, t, c, 7);
  EXPECT_EQ(a.to_vector(), ref_a.to_vector());  // bit for bit
  EXPECT_EQ(d.to_vector(), ref_d.to_vector());
  EXPECT_EQ(b.to_vector(), fresh().to_vector());  // multiplier 0: neither update nor decay
  EXPECT_THROW(scaled.set_lr_scales({1.f, 1.f}), Error);
  EXPECT_THROW(scaled.set_lr_scales({1.f, -1.f, 1.f}), Error);
  scaled.set_lr_scales({});  // back to all 1
}

TEST(AdamW, ClipGradNormScalesToTheLimit) {
  Tensor p = Tensor::from_vector({0, 0}, {2}).set_requires_grad();
  backward(sum(mul(p, Tensor::from_vector({3, 4}, {2}))));
  EXPECT_NEAR(clip_grad_norm({p}, 1.f), 5.f, 1e-5f);
  std::vector<float> g = p.grad().to_vector();
  EXPECT_NEAR(g[0], 0.6f, 1e-4f);
  EXPECT_NEAR(g[1], 0.8f, 1e-4f);
}

}  // namespace
}  // namespace kinema
