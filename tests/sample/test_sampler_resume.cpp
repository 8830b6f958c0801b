// Sampling stopped after any step and resumed from its checkpoint gives the bits an uninterrupted
// run gives, for every stepper (kinema serve resumes killed renders this way).
#include <gtest/gtest.h>

#include <cmath>

#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/sampler.hpp"

namespace kinema {
namespace {

// A model whose velocity depends on x and on sigma, so history matters to multistep methods.
ModelFn toy_model() {
  return [](const Tensor& x, const ModelCall& call) {
    std::vector<float> v = x.to_vector();
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = std::sin(v[i] * 1.3f + call.sigma) - 0.2f * float(i % 3) + (call.conditional ? 0.1f : -0.1f);
    return Tensor::from_vector(v, x.shape());
  };
}

Tensor noise() {
  std::vector<float> n(24);
  for (size_t i = 0; i < n.size(); ++i) n[i] = std::cos(float(i) * 0.7f);
  return Tensor::from_vector(n, {2, 3, 4});
}

TEST(SamplerResume, ResumingFromAnyStepReproducesTheUninterruptedBits) {
  ScheduleOptions so;
  so.steps = 7, so.shift = 3;
  const Schedule sched = flow_schedule(so);
  for (const std::string& name : sampler_names()) {
    SampleOptions o;
    o.sampler = name, o.guidance.cfg = 2.5f;
    std::vector<SampleCheckpoint> saved;
    o.checkpoint = [&](const SampleCheckpoint& c) { saved.push_back(c); };
    const std::vector<float> whole = sample(toy_model(), noise(), sched, o).to_vector();
    ASSERT_EQ(saved.size(), size_t(so.steps - 1)) << name;  // none after the last step
    for (const SampleCheckpoint& c : saved) {
      SampleOptions r;
      r.sampler = name, r.guidance.cfg = 2.5f, r.resume = &c;
      EXPECT_EQ(sample(toy_model(), noise(), sched, r).to_vector(), whole) << name << " from step " << c.step;
    }
  }
}

TEST(SamplerResume, AStateFromAnotherStepperOrStepIsRefused) {
  ScheduleOptions so;
  so.steps = 5;
  const Schedule sched = flow_schedule(so);
  SampleOptions o;
  o.sampler = "unipc";
  SampleCheckpoint c;
  o.checkpoint = [&](const SampleCheckpoint& s) { c = s; };
  sample(toy_model(), noise(), sched, o);
  SampleOptions r;
  r.sampler = "euler", r.resume = &c;
  EXPECT_THROW(sample(toy_model(), noise(), sched, r), Error);
  r.sampler = "unipc";
  c.step = 5;  // past the last step that leaves work to do
  EXPECT_THROW(sample(toy_model(), noise(), sched, r), Error);
}

}  // namespace
}  // namespace kinema
