// Model guidance: the conditional branch learns the guided velocity itself (train.hpp).
#include <cmath>

#include "kinema/error.hpp"
#include "kinema/train.hpp"

namespace kinema {

Tensor model_guided_velocity(const Tensor& velocity, const Tensor& conditional, const Tensor& unconditional,
                             const std::vector<char>& dropped, float w) {
  check(std::isfinite(w) && w >= 0 && w < 1, "model_guided_velocity",
        "the model-guidance weight must be in [0, 1) (CFG scale 1 / (1 - w)); got ", w);
  check(conditional.shape() == velocity.shape() && unconditional.shape() == velocity.shape(),
        "model_guided_velocity", "the predictions ", shape_str(conditional.shape()), " and ",
        shape_str(unconditional.shape()), " must have the target's shape ", shape_str(velocity.shape()));
  check(velocity.ndim() >= 1 && int64_t(dropped.size()) == velocity.size(0), "model_guided_velocity",
        "one dropped flag per sample is needed: ", dropped.size(), " for a batch of ",
        velocity.ndim() >= 1 ? velocity.size(0) : 0);
  std::vector<float> v = velocity.to_vector();
  const std::vector<float> c = conditional.to_vector(), u = unconditional.to_vector();
  const size_t per = v.size() / dropped.size();
  for (size_t i = 0; i < dropped.size(); ++i) {
    if (dropped[i]) continue;
    for (size_t j = i * per; j < (i + 1) * per; ++j) v[j] += w * (c[j] - u[j]);
  }
  return Tensor::from_vector(v, velocity.shape());
}

}  // namespace kinema
