// The sampling loop: schedule × denoiser × stepper.
#include <cmath>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/sampler.hpp"

namespace kinema {
namespace {

void check_schedule(const Schedule& schedule) {
  const auto& s = schedule.sigmas;
  check(schedule.steps() >= 1, "sample", "the schedule has no steps; got ", schedule.steps(),
        " timesteps");
  check(s.size() == schedule.timesteps.size() + 1, "sample",
        "a schedule needs one more sigma than timesteps; got ", s.size(), " sigmas and ",
        schedule.timesteps.size(), " timesteps");
  for (size_t k = 0; k < s.size(); ++k) {
    check(std::isfinite(s[k]) && s[k] >= 0 && s[k] <= 1, "sample", "sigma[", k,
          "] must lie in [0, 1]; got ", s[k]);
    if (k > 0)
      check(s[k] < s[k - 1], "sample", "sigmas must decrease strictly; got sigma[", k - 1,
            "] = ", s[k - 1], " and sigma[", k, "] = ", s[k]);
  }
}

}  // namespace

Tensor sample(const ModelFn& model, const Tensor& noise, const Schedule& schedule,
              const SampleOptions& options) {
  check(noise.defined(), "sample", "no initial latent given");
  check_schedule(schedule);
  std::unique_ptr<Stepper> stepper = make_stepper(options.sampler);
  Denoiser denoiser(model, options.guidance);
  NoGradGuard no_grad;

  Tensor x = noise.dtype() == DType::f32 ? noise : cast(noise, DType::f32);
  const int n = schedule.steps();
  int first = 0;
  if (const SampleCheckpoint* r = options.resume) {
    check(r->step >= 1 && r->step < n, "sample", "a checkpoint must lie after step 1 … ", n - 1, "; got step ",
          r->step);
    check(r->x.defined() && r->x.shape() == x.shape() && r->x.dtype() == DType::f32, "sample",
          "the checkpoint's latent must be f32 of the noise's shape");
    x = r->x, first = r->step;
    stepper->load(r->stepper);
  }
  for (int i = first; i < n; ++i) {
    const float sigma = schedule.sigmas[size_t(i)], sigma_next = schedule.sigmas[size_t(i) + 1];
    Tensor v = denoiser.velocity(x, sigma, schedule.timesteps[size_t(i)]);
    NextVelocityFn next;
    if (i + 1 < n) {
      const float t_next = schedule.timesteps[size_t(i) + 1];
      next = [&denoiser, sigma_next, t_next](const Tensor& x_next) {
        return denoiser.velocity(x_next, sigma_next, t_next);
      };
    } else {
      // Only Heun on a schedule that ends above σ = 0 gets here; the point past the schedule's
      // last timestep gets Wan's truncated 1000·σ.
      const float t_next = std::trunc(sigma_next * 1000.0f);
      next = [&denoiser, sigma_next, t_next](const Tensor& x_next) {
        return denoiser.velocity(x_next, sigma_next, t_next);
      };
    }
    const Tensor denoised = options.progress ? velocity_to_x0(x, sigma, v) : Tensor();
    x = stepper->step(x, sigma, sigma_next, v, next);
    if (options.progress) {
      SampleProgress p;
      p.step = i + 1, p.steps = n, p.sigma = sigma, p.sigma_next = sigma_next;
      p.model_calls = denoiser.model_calls();
      p.x = &x, p.denoised = &denoised;
      options.progress(p);
    }
    if (options.checkpoint && i + 1 < n) options.checkpoint(SampleCheckpoint{i + 1, x, stepper->save()});
  }
  return x;
}

}  // namespace kinema
