// Flow-matching sigma schedule (see kinema/sampler.hpp for the convention). Everything is
// computed in float64 in the order numpy evaluates Wan's expressions and rounded to float32
// once, so the sigmas are bit-identical to Wan's and the truncated timesteps agree with its
// int64 cast.
#include <cmath>

#include "kinema/error.hpp"
#include "kinema/sampler.hpp"

namespace kinema {

double shift_sigma(double sigma, double shift) {
  check(shift > 0 && std::isfinite(shift), "shift_sigma", "shift must be a positive number; got ",
        shift);
  return shift * sigma / (1 + (shift - 1) * sigma);
}

Schedule flow_schedule(const ScheduleOptions& options) {
  const int n = options.steps;
  check(n >= 1, "flow_schedule", "steps must be at least 1; got ", n);
  check(options.shift > 0 && std::isfinite(options.shift), "flow_schedule",
        "shift must be a positive number; got ", options.shift);
  check(options.sigma_max > 0 && options.sigma_max <= 1, "flow_schedule",
        "sigma_max must lie in (0, 1]; got ", options.sigma_max);
  Schedule s;
  s.sigmas.reserve(size_t(n) + 1);
  s.timesteps.reserve(size_t(n));
  // numpy.linspace(start, 0, n + 1): y_k = k·step + start with step = (0 − start)/n.
  const double start = options.sigma_max, step = (0.0 - start) / n;
  for (int k = 0; k < n; ++k) {
    double sigma = shift_sigma(double(k) * step + start, options.shift);
    s.sigmas.push_back(float(sigma));
    double t = sigma * 1000.0;
    s.timesteps.push_back(options.timesteps == TimestepMode::wan_truncated ? float(std::trunc(t))
                                                                           : float(t));
  }
  s.sigmas.push_back(0.0f);
  for (int k = 0; k < n; ++k)
    check(s.sigmas[k] > s.sigmas[k + 1], "flow_schedule",
          "sigmas must decrease strictly; got sigma[", k, "] = ", s.sigmas[k], " and sigma[", k + 1,
          "] = ", s.sigmas[k + 1], " (too many steps for float32?)");
  return s;
}

}  // namespace kinema
