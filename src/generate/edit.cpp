// SDEdit (Meng et al. 2022, arXiv 2108.01073) for flow matching: the input's latent x0 is
// noised to x = (1 - s)·x0 + s·ε at s = strength and integrated down to 0 with the new prompt.
// No frame conditioning: the noised latent itself carries the input's layout and motion.
#include <algorithm>
#include <cmath>

#include "generate/internal.hpp"
#include "kinema/error.hpp"

namespace kinema::detail {

Schedule edit_schedule(int steps, double shift, double strength) {
  check(strength > 0 && strength <= 1, "edit", "--strength must lie in [0, 1]; got ", strength);
  // The schedule's first sigma is shift(sigma_max); invert the shift so it lands on strength:
  // s·u / (1 + (s - 1)·u) = strength  <=>  u = strength / (s - (s - 1)·strength).
  ScheduleOptions o;
  o.shift = shift;
  o.sigma_max = strength >= 1 ? 1.0 : std::min(1.0, strength / (shift - (shift - 1) * strength));
  o.steps = std::max(1, int(std::ceil(steps * strength - 1e-9)));
  o.timesteps = TimestepMode::exact;  // the trainer feeds 1000 t
  return flow_schedule(o);
}

}  // namespace kinema::detail
