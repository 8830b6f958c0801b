// The shape-label loss's targets per token (make_flow_batch).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "kinema/tensor.hpp"
#include "kinema/train.hpp"

namespace kinema {

// [B, N, K]: each sample's token_labels [T, H, W, K] averaged over the patch of every token, in
// DiT::forward's (t, h, w) token order; undefined when sample 0 has none. Throws Error when some
// samples have labels and others not, or a label map's shape is not the latent's [T, H, W, K].
Tensor batch_token_targets(const std::vector<LatentSample>& samples, const std::array<int64_t, 3>& patch);

}  // namespace kinema
