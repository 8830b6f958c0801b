// Flow-matching samplers: schedule, denoiser and steppers against closed forms, an independent
// float64 PyTorch reference (sampler_reference.py) and numbers recorded from Wan2.1's own
// schedulers (tests/sample/data, see docs/sampling.md). Error measure for tensors:
// max |kinema − reference| / max |reference|.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/sampler.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {
namespace {
namespace fs = std::filesystem;

Tensor random_tensor(const Shape& shape, uint64_t seed, float lo, float hi) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = u(g);
  return Tensor::from_vector(v, shape);
}

double rel_error(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  EXPECT_EQ(x.size(), y.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    diff = std::max(diff, double(std::fabs(x[i] - y[i])));
    scale = std::max(scale, double(std::fabs(y[i])));
  }
  return diff / std::max(scale, 1e-30);
}

// ---- schedule ---------------------------------------------------------------------------------

TEST(SamplerSchedule, EndsAtZeroAndStartsAtTheShiftedSigmaMax) {
  for (int steps : {1, 2, 8, 50}) {
    Schedule s = flow_schedule({.steps = steps, .shift = 3.0});
    ASSERT_EQ(s.sigmas.size(), size_t(steps) + 1);
    ASSERT_EQ(s.steps(), steps);
    EXPECT_EQ(s.sigmas.back(), 0.0f);
    EXPECT_EQ(s.sigmas.front(), float(3 * kWanSigmaMax / (1 + 2 * kWanSigmaMax)));
    for (int k = 0; k < steps; ++k) EXPECT_GT(s.sigmas[k], s.sigmas[k + 1]);
  }
  Schedule full = flow_schedule({.steps = 4, .shift = 5.0, .sigma_max = 1.0});
  EXPECT_EQ(full.sigmas.front(), 1.0f);
  EXPECT_EQ(full.timesteps.front(), 1000.0f);
}

TEST(SamplerSchedule, ShiftMapsSigmaAsSd3AndIsIdentityAtOne) {
  EXPECT_DOUBLE_EQ(shift_sigma(0.5, 3.0), 0.75);  // 3·0.5/(1 + 2·0.5)
  EXPECT_DOUBLE_EQ(shift_sigma(0.0, 7.0), 0.0);
  EXPECT_DOUBLE_EQ(shift_sigma(1.0, 7.0), 1.0);
  for (double s : {0.1, 0.37, 0.9}) EXPECT_DOUBLE_EQ(shift_sigma(s, 1.0), s);
  // Unshifted, the schedule is linspace(σ_max, 0, N + 1).
  Schedule s = flow_schedule({.steps = 4, .shift = 1.0, .sigma_max = 1.0});
  EXPECT_EQ(s.sigmas, (std::vector<float>{1.0f, 0.75f, 0.5f, 0.25f, 0.0f}));
}

TEST(SamplerSchedule, TimestepsAreWansTruncatedIntegersOrExact) {
  Schedule wan = flow_schedule({.steps = 8, .shift = 3.0});
  Schedule exact = flow_schedule({.steps = 8, .shift = 3.0, .timesteps = TimestepMode::exact});
  EXPECT_EQ(wan.sigmas, exact.sigmas);
  for (int k = 0; k < 8; ++k) {
    EXPECT_EQ(wan.timesteps[k], std::trunc(wan.timesteps[k]));
    EXPECT_NEAR(exact.timesteps[k], 1000.0f * exact.sigmas[k], 1e-3);
    EXPECT_LE(wan.timesteps[k], exact.timesteps[k]);
    EXPECT_GT(wan.timesteps[k], exact.timesteps[k] - 1);
  }
}

TEST(SamplerSchedule, BadOptionsAreErrors) {
  EXPECT_THROW(flow_schedule({.steps = 0}), Error);
  EXPECT_THROW(flow_schedule({.steps = -3}), Error);
  EXPECT_THROW(flow_schedule({.steps = 8, .shift = 0.0}), Error);
  EXPECT_THROW(flow_schedule({.steps = 8, .shift = -1.0}), Error);
  EXPECT_THROW(flow_schedule({.steps = 8, .sigma_max = 1.5}), Error);
  EXPECT_THROW(shift_sigma(0.5, 0.0), Error);
  try {
    flow_schedule({.steps = 0});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("steps must be at least 1; got 0"), std::string::npos)
        << e.what();
  }
}

// ---- denoiser and driver ----------------------------------------------------------------------

TEST(SamplerDenoiser, CfgOneCallsTheModelOncePerStepAndOtherwiseTwice) {
  Tensor noise = random_tensor({1, 2, 3}, 1, -1, 1);
  for (float cfg : {1.0f, 4.0f}) {
    for (const std::string& name : sampler_names()) {
      int cond = 0, uncond = 0;
      ModelFn model = [&](const Tensor& x, const ModelCall& call) {
        (call.conditional ? cond : uncond)++;
        return scale(x, 0.1f);
      };
      int64_t reported = 0;
      SampleOptions options{.sampler = name, .guidance = {.cfg = cfg}};
      options.progress = [&](const SampleProgress& p) { reported = p.model_calls; };
      sample(model, noise, flow_schedule({.steps = 6, .shift = 3.0}), options);
      int evals = name == "heun" ? 6 * 2 - 1 : 6;  // Heun: 2 per step, 1 on the last (Euler)
      EXPECT_EQ(cond, evals) << name << " cfg " << cfg;
      EXPECT_EQ(uncond, cfg == 1.0f ? 0 : evals) << name << " cfg " << cfg;
      EXPECT_EQ(reported, cond + uncond) << name;
    }
  }
}

TEST(SamplerDenoiser, GuidanceAndRescaleFollowTheirFormulas) {
  Tensor x = random_tensor({2, 3, 4}, 2, -1, 1);
  Tensor vc = random_tensor({2, 3, 4}, 3, -2, 2), vu = random_tensor({2, 3, 4}, 4, -1, 1);
  ModelFn model = [&](const Tensor&, const ModelCall& call) { return call.conditional ? vc : vu; };
  Tensor guided = Denoiser(model, {.cfg = 3.0f}).velocity(x, 0.5f, 500.f);
  std::vector<float> g = guided.to_vector(), c = vc.to_vector(), u = vu.to_vector();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], u[i] + 3.0f * (c[i] - u[i]), 1e-5);

  // φ = 1: each batch item is scaled to the conditional branch's (unbiased) std.
  Tensor r = Denoiser(model, {.cfg = 3.0f, .rescale = 1.0f}).velocity(x, 0.5f, 500.f);
  std::vector<float> rv = r.to_vector();
  auto stdev = [](const float* p, int n) {
    double m = 0, s = 0;
    for (int i = 0; i < n; ++i) m += p[i];
    m /= n;
    for (int i = 0; i < n; ++i) s += (p[i] - m) * (p[i] - m);
    return std::sqrt(s / (n - 1));
  };
  for (int b = 0; b < 2; ++b) {
    EXPECT_NEAR(stdev(rv.data() + 12 * b, 12), stdev(c.data() + 12 * b, 12), 1e-5);
    double ratio = stdev(c.data() + 12 * b, 12) / stdev(g.data() + 12 * b, 12);
    for (int i = 0; i < 12; ++i) EXPECT_NEAR(rv[12 * b + i], g[12 * b + i] * ratio, 1e-5);
  }
  EXPECT_THROW(Denoiser(model, {.cfg = 3.0f, .rescale = 1.5f}), Error);
}

// A guidance ramp: latent frames next to given ones take a share of the guidance that grows
// with their distance, so text guidance does not pull them off what they continue.
TEST(SamplerDenoiser, PerFrameGuidanceScalesEachLatentFramesShare) {
  auto near = [](const std::vector<float>& got, const std::vector<float>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
  };
  near(guidance_ramp_shares({true, true, false, false, false, false}, 3), {0, 0, 1 / 3.f, 2 / 3.f, 1, 1});
  near(guidance_ramp_shares({true, false, false, false, true}, 2), {0, 0.5f, 1, 0.5f, 0});  // a join
  near(guidance_ramp_shares({false, false, true}, 4), {0.5f, 0.25f, 0});                  // backward
  near(guidance_ramp_shares({false, false, false}, 3), {1, 1, 1});  // nothing given: cfg everywhere
  near(guidance_ramp_shares({true, false, false}, 1), {1, 1, 1});   // ramp 0 or 1: off

  const Shape shape = {1, 2, 3, 2, 2};  // [B, C, T, H, W]
  Tensor x = random_tensor(shape, 2, -1, 1);
  Tensor vc = random_tensor(shape, 3, -2, 2), vu = random_tensor(shape, 4, -1, 1);
  ModelFn model = [&](const Tensor&, const ModelCall& call) { return call.conditional ? vc : vu; };
  GuidanceOptions o{.cfg = 5.0f};
  o.frame_share = {0, 0.5f, 1};
  const std::vector<float> g = Denoiser(model, o).velocity(x, 0.5f, 500.f).to_vector();
  const std::vector<float> c = vc.to_vector(), u = vu.to_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    const float w[] = {1.f, 3.f, 5.f};  // 1 + (cfg - 1) x share
    EXPECT_NEAR(g[i], u[i] + w[(i / 4) % 3] * (c[i] - u[i]), 1e-5) << i;
  }
  o.frame_share = {1, 1};  // one share per latent frame
  EXPECT_THROW(Denoiser(model, o).velocity(x, 0.5f, 500.f), Error);
  o.frame_share = {0, -1, 1};
  EXPECT_THROW(Denoiser(model, o), Error);
}

// Projected guidance in closed form: no projection and no cap is plain CFG; with η = 0 the
// guided data prediction moves away from the conditional one only orthogonally to it, per latent
// frame; the cap bounds the step's RMS per latent frame.
TEST(SamplerDenoiser, ProjectedGuidanceIsCfgUnprojectedAndOrthogonalWithoutItsParallelPart) {
  const Shape shape = {2, 3, 4, 2, 3};  // [B, C, T, H, W]
  Tensor x = random_tensor(shape, 2, -1, 1);
  Tensor vc = random_tensor(shape, 3, -2, 2), vu = random_tensor(shape, 4, -1, 1);
  const float sigma = 0.6f, cfg = 5.0f;
  const std::vector<float> w(4, cfg);
  const std::vector<float> c = vc.to_vector(), u = vu.to_vector(), xs = x.to_vector();
  const std::vector<float> plain = projected_guidance(x, sigma, vc, vu, w, {1.0f, 0.0f}).to_vector();
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_NEAR(plain[i], u[i] + cfg * (c[i] - u[i]), 1e-4) << i;

  // Per (item, latent frame): Δ = (D_g − D_c)/(cfg − 1) against D_c = x − σ·v_c.
  auto per_frame = [&](const std::vector<float>& g, auto&& f) {
    for (int b = 0; b < 2; ++b)
      for (int t = 0; t < 4; ++t) {
        double dot = 0, dd = 0, cc = 0;
        for (int ch = 0; ch < 3; ++ch)
          for (int k = 0; k < 6; ++k) {
            const size_t i = size_t(((b * 3 + ch) * 4 + t) * 6 + k);
            const double dc = xs[i] - sigma * c[i], delta = -sigma * (g[i] - c[i]) / (cfg - 1);
            dot += delta * dc, dd += delta * delta, cc += dc * dc;
          }
        f(dot / std::sqrt(dd * cc), std::sqrt(dd / 18));
      }
  };
  per_frame(projected_guidance(x, sigma, vc, vu, w, {0.0f, 0.0f}).to_vector(),
            [](double cosine, double) { EXPECT_NEAR(cosine, 0.0, 1e-4); });
  int capped = 0;
  per_frame(projected_guidance(x, sigma, vc, vu, w, {1.0f, 0.2f}).to_vector(), [&](double, double rms) {
    EXPECT_LE(rms, 0.2 + 1e-4);
    capped += rms > 0.2 - 1e-4;
  });
  EXPECT_GT(capped, 0);  // the random branches differ by more than the cap
  // The Denoiser routes there, frame shares included (share 0: the conditional velocity).
  ModelFn model = [&](const Tensor&, const ModelCall& call) { return call.conditional ? vc : vu; };
  GuidanceOptions o{.cfg = cfg, .projected = {0.0f, 0.0f}};
  EXPECT_EQ(Denoiser(model, o).velocity(x, sigma, 600.f).to_vector(),
            projected_guidance(x, sigma, vc, vu, w, o.projected).to_vector());
  o.frame_share = {0, 1, 1, 1};
  const std::vector<float> shared = Denoiser(model, o).velocity(x, sigma, 600.f).to_vector();
  for (size_t i = 0; i < shared.size(); ++i)
    if ((i / 6) % 4 == 0) EXPECT_NEAR(shared[i], c[i], 1e-6) << i;
  EXPECT_THROW(Denoiser(model, {.cfg = cfg, .projected = {0.5f, -1.0f}}), Error);
}

TEST(SamplerDenoiser, X0OfTheTrueVelocityIsTheCleanLatent) {
  Tensor x0 = random_tensor({5}, 5, -1, 1), eps = random_tensor({5}, 6, -1, 1);
  float sigma = 0.3f;
  Tensor xt = add(scale(x0, 1 - sigma), scale(eps, sigma));
  EXPECT_LT(rel_error(velocity_to_x0(xt, sigma, sub(eps, x0)), x0), 1e-6);
}

TEST(SamplerDriver, BadInputsAreClearErrors) {
  ModelFn model = [](const Tensor& x, const ModelCall&) { return x; };
  Tensor noise = random_tensor({3}, 7, -1, 1);
  Schedule good = flow_schedule({.steps = 4});
  try {
    sample(model, noise, good, {.sampler = "ddim"});
    ADD_FAILURE() << "unknown sampler accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("unknown sampler \"ddim\""), std::string::npos) << m;
    EXPECT_NE(m.find("euler, heun, unipc, dpm++"), std::string::npos) << m;
  }
  EXPECT_THROW(make_stepper("DPM++"), Error);
  EXPECT_THROW(sample(model, noise, Schedule{}, {}), Error);
  Schedule rising = good;
  std::swap(rising.sigmas[1], rising.sigmas[2]);
  EXPECT_THROW(sample(model, noise, rising, {}), Error);
  ModelFn wrong = [](const Tensor&, const ModelCall&) { return Tensor::zeros({4}); };
  EXPECT_THROW(sample(wrong, noise, good, {}), Error);
}

TEST(SamplerDriver, ProgressReportsEveryStepInOrder) {
  Tensor noise = random_tensor({4}, 8, -1, 1);
  Schedule s = flow_schedule({.steps = 5, .shift = 2.0});
  std::vector<int> seen;
  std::vector<float> last_denoised;
  SampleOptions options{.sampler = "euler", .guidance = {.cfg = 1.0f}};
  options.progress = [&](const SampleProgress& p) {
    seen.push_back(p.step);
    EXPECT_EQ(p.steps, 5);
    EXPECT_EQ(p.sigma, s.sigmas[size_t(p.step) - 1]);
    EXPECT_EQ(p.sigma_next, s.sigmas[size_t(p.step)]);
    ASSERT_NE(p.x, nullptr);
    ASSERT_NE(p.denoised, nullptr);
    last_denoised = p.denoised->to_vector();
  };
  const Tensor out = sample([](const Tensor& x, const ModelCall&) { return x; }, noise, s, options);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5}));
  // Euler's last step lands on σ = 0, where the latent is that step's data prediction.
  const std::vector<float> result = out.to_vector();
  ASSERT_EQ(last_denoised.size(), result.size());
  for (size_t i = 0; i < result.size(); ++i) EXPECT_NEAR(last_denoised[i], result[i], 1e-6);
}

// ---- closed forms -----------------------------------------------------------------------------

// The ideal denoiser of a single point x0: v = (x − x0)/σ, whose flow is the straight line to
// x0. Every sampler's x0 prediction is then exact, so each must land on x0 for any step count.
TEST(SamplerClosedForm, EverySamplerLandsOnTheSinglePointTarget) {
  Tensor x0 = random_tensor({2, 3, 4}, 9, -1, 1), noise = random_tensor({2, 3, 4}, 10, -2, 2);
  ModelFn model = [&](const Tensor& x, const ModelCall& call) {
    return scale(sub(x, x0), 1.0f / call.sigma);
  };
  for (const std::string& name : sampler_names())
    for (int steps : {1, 2, 3, 5, 8, 20})
      for (double sigma_max : {kWanSigmaMax, 1.0}) {
        Schedule s = flow_schedule({.steps = steps, .shift = 3.0, .sigma_max = sigma_max});
        Tensor out = sample(model, noise, s, {.sampler = name, .guidance = {.cfg = 1.0f}});
        EXPECT_LT(rel_error(out, x0), 1e-5) << name << " steps " << steps << " max " << sigma_max;
      }
}

// dx/dσ = k·x: Euler multiplies by (1 + k·Δσ) per step.
TEST(SamplerClosedForm, EulerMatchesItsClosedFormOnALinearOde) {
  const float k = 0.7f;
  Tensor noise = random_tensor({6}, 11, -1, 1);
  Schedule s = flow_schedule({.steps = 7, .shift = 3.0});
  Tensor out = sample([&](const Tensor& x, const ModelCall&) { return scale(x, k); }, noise, s,
                      {.sampler = "euler", .guidance = {.cfg = 1.0f}});
  double factor = 1;
  for (int i = 0; i < 7; ++i) factor *= 1 + double(k) * (double(s.sigmas[i + 1]) - s.sigmas[i]);
  EXPECT_LT(rel_error(out, scale(noise, float(factor))), 1e-6);
}

// On dx/dσ = k·x + c·σ (exact solution known): Euler's error halves when the step count
// doubles and Heun's falls ~4×. UniPC and DPM++ take first-order steps at both ends (the first
// step has no history, the last one onto σ = 0 is lower_order_final, as in Wan), which leaves
// an O(Δσ) term with a small constant, so for them the test asks for an error at least 10×
// below Euler's at the same step count instead of a convergence ratio.
TEST(SamplerClosedForm, HigherOrderSamplersBeatEulerOnALinearOde) {
  const double k = 0.8, c = 0.5, x1 = 1.0;
  // x(σ) = A·e^{kσ} − c·(σ/k + 1/k²), with A fixed by x(σ_0) = x1.
  auto exact = [&](double s0, double s) {
    double A = (x1 + c * (s0 / k + 1 / (k * k))) * std::exp(-k * s0);
    return A * std::exp(k * s) - c * (s / k + 1 / (k * k));
  };
  ModelFn model = [&](const Tensor& x, const ModelCall& call) {
    return add_scalar(scale(x, float(k)), float(c) * call.sigma);
  };
  std::map<std::string, std::array<double, 2>> err;
  for (const std::string& name : sampler_names()) {
    for (int j = 0; j < 2; ++j) {
      Schedule s = flow_schedule({.steps = 16 << j, .shift = 1.0});
      Tensor out = sample(model, Tensor::full({1}, float(x1)), s,
                          {.sampler = name, .guidance = {.cfg = 1.0f}});
      err[name][size_t(j)] = std::fabs(out.item() - exact(s.sigmas[0], 0.0));
    }
    std::printf("  %-6s error 16 steps %.3e, 32 steps %.3e\n", name.c_str(), err[name][0],
                err[name][1]);
  }
  double euler_ratio = err["euler"][0] / err["euler"][1];
  EXPECT_GT(euler_ratio, 1.7);
  EXPECT_LT(euler_ratio, 2.3);
  EXPECT_GT(err["heun"][0] / err["heun"][1], 3.5);
  for (const char* name : {"unipc", "dpm++"})
    for (size_t j = 0; j < 2; ++j) EXPECT_LT(err[name][j], err["euler"][j] / 10) << name;
}

TEST(SamplerStepper, ResetForgetsTheHistory) {
  Tensor noise = random_tensor({2, 5}, 12, -1, 1);
  Schedule s = flow_schedule({.steps = 6, .shift = 3.0});
  auto velocity = [](const Tensor& x, float sigma) { return add_scalar(scale(x, -0.3f), sigma); };
  for (std::string name : {"unipc", "dpm++"}) {
    std::unique_ptr<Stepper> st = make_stepper(name);
    EXPECT_EQ(st->name(), name);
    std::vector<Tensor> runs;
    for (int r = 0; r < 2; ++r) {
      st->reset();
      Tensor x = noise;
      for (int i = 0; i < 6; ++i)
        x = st->step(x, s.sigmas[i], s.sigmas[i + 1], velocity(x, s.sigmas[i]), {});
      runs.push_back(x);
    }
    EXPECT_EQ(runs[0].to_vector(), runs[1].to_vector()) << name;
  }
}

// ---- PyTorch reference ------------------------------------------------------------------------

// Runs sampler_reference.py on `in` and returns its output; a failed run fails the test.
TensorFile run_sampler_reference(const TensorFile& in) {
  fs::path dir = fs::temp_directory_path() / ("kinema-sampler-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  save_tensors((dir / "in.safetensors").string(), in);
  std::string cmd = std::string(KINEMA_PYTHON) + " " + KINEMA_SOURCE_DIR +
                    "/tests/sample/sampler_reference.py " + (dir / "in.safetensors").string() +
                    " " + (dir / "out.safetensors").string() + " > " + (dir / "log.txt").string() +
                    " 2>&1";
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream log(dir / "log.txt");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    fs::remove_all(dir);
    ADD_FAILURE() << "sampler_reference.py failed (" << rc << "):\n" << text;
    return {};
  }
  TensorFile ref = load_tensors((dir / "out.safetensors").string());
  fs::remove_all(dir);
  return ref;
}

// Every sampler under plain guidance with rescale, then under projected guidance (APG).
TEST(SamplerParity, EverySamplerMatchesTheFloat64Reference) {
  const Shape shape = {2, 3, 2, 4, 4};
  TensorFile in;
  in.tensors["noise"] = random_tensor(shape, 20, -2, 2);
  in.tensors["a_cond"] = random_tensor(shape, 21, -0.5f, 0.5f);
  in.tensors["c_cond"] = random_tensor(shape, 22, -1, 1);
  in.tensors["a_uncond"] = random_tensor(shape, 23, -0.5f, 0.5f);
  in.tensors["c_uncond"] = random_tensor(shape, 24, -1, 1);
  const int steps = 8;
  const double shift = 3.0;
  const float cfg = 4.0f;
  struct Case { GuidanceOptions guidance; std::map<std::string, std::string> metadata; };
  const std::vector<Case> cases = {
      {{.cfg = cfg, .rescale = 0.7f}, {{"rescale", "0.7"}}},
      {{.cfg = cfg, .projected = {0.25f, 0.3f}}, {{"rescale", "0"}, {"parallel", "0.25"}, {"norm_cap", "0.3"}}},
  };
  Schedule s = flow_schedule({.steps = steps, .shift = shift});
  const auto& T = in.tensors;
  ModelFn model = [&](const Tensor& x, const ModelCall& call) {
    const char* a = call.conditional ? "a_cond" : "a_uncond";
    const char* c = call.conditional ? "c_cond" : "c_uncond";
    return add(mul(T.at(a), x), scale(T.at(c), call.sigma));
  };
  for (const Case& k : cases) {
    in.metadata = {{"steps", std::to_string(steps)}, {"shift", "3.0"}, {"cfg", "4.0"},
                   {"sigma_max", "0.9990000128746033"}};
    for (const auto& [key, value] : k.metadata) in.metadata[key] = value;
    TensorFile ref = run_sampler_reference(in);
    ASSERT_FALSE(ref.tensors.empty());
    EXPECT_EQ(ref.tensors.at("sigmas").to_vector(), s.sigmas);
    for (const std::string& name : sampler_names()) {
      Tensor out = sample(model, T.at("noise"), s, {.sampler = name, .guidance = k.guidance});
      double err = rel_error(out, ref.tensors.at("x." + name));
      std::printf("  %-6s %s rel %.3e\n", name.c_str(), k.guidance.projected.active() ? "apg" : "cfg", err);
      EXPECT_LT(err, 1e-5) << name;
    }
  }
}

// ---- Wan2.1's own schedulers ------------------------------------------------------------------

// Recorded by running FlowUniPCMultistepScheduler / FlowDPMSolverMultistepScheduler from
// github:Wan-Video/Wan2.1 as wan/text2video.py drives them (docs/sampling.md).
struct WanGolden {
  std::string file, sampler;
  double sigma_max;
};

void check_wan_golden(const WanGolden& g) {
  TensorFile f = load_tensors(std::string(KINEMA_SOURCE_DIR) + "/tests/sample/data/" + g.file);
  const auto& T = f.tensors;
  // Schedules: bit-identical sigmas and timesteps, for the recorded 10 steps and Wan's default 50.
  Schedule s = flow_schedule({.steps = 10, .shift = 5.0, .sigma_max = g.sigma_max});
  EXPECT_EQ(T.at("sigmas").to_vector(), s.sigmas);
  EXPECT_EQ(T.at("timesteps").to_vector(), s.timesteps);
  Schedule s50 = flow_schedule({.steps = 50, .shift = 5.0, .sigma_max = g.sigma_max});
  EXPECT_EQ(T.at("sigmas_50_shift5").to_vector(), s50.sigmas);
  EXPECT_EQ(T.at("timesteps_50_shift5").to_vector(), s50.timesteps);

  // Trajectory: Wan's model input is the integer timestep, so the analytic model uses it too.
  ModelFn model = [&](const Tensor& x, const ModelCall& call) {
    const char* a = call.conditional ? "a_cond" : "a_uncond";
    const char* c = call.conditional ? "c_cond" : "c_uncond";
    return add(mul(T.at(a), x), scale(T.at(c), call.timestep / 1000.0f));
  };
  Tensor traj = T.at("trajectory");  // [11, C, T, H, W]
  SampleOptions options{.sampler = g.sampler, .guidance = {.cfg = 5.0f}};
  options.progress = [&](const SampleProgress& p) {
    double err = rel_error(*p.x, reshape(slice(traj, 0, p.step, p.step + 1), p.x->shape()));
    std::printf("  %s step %2d rel %.3e\n", g.sampler.c_str(), p.step, err);
    EXPECT_LT(err, 1e-5) << g.sampler << " step " << p.step;
  };
  sample(model, T.at("noise"), s, options);
}

TEST(SamplerWan, UniPCScheduleAndTrajectoryMatchWansScheduler) {
  check_wan_golden({"wan_unipc_golden.safetensors", "unipc", kWanSigmaMax});
}

TEST(SamplerWan, DpmPPScheduleAndTrajectoryMatchWansScheduler) {
  check_wan_golden({"wan_dpmpp_golden.safetensors", "dpm++", 1.0});
}

}  // namespace
}  // namespace kinema
