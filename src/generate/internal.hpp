// Helpers shared by the generate sources (not public API).
#pragma once
#include <functional>
#include <vector>

#include "kinema/media.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/sampler.hpp"
#include "kinema/tensor.hpp"

namespace kinema::detail {

Tensor frames_to_video(const std::vector<Frame>& frames);   // -> [1, 3, T, H, W] in [-1, 1]
std::vector<Frame> video_to_frames(const Tensor& video);    // [1, 3, T, H, W] -> RGB frames
// z [1, C, T', h, w] with every latent frame whose K mask channels are all 1 in `condition`
// ([1, K + C, T', h, w]) replaced by the condition's known latent.
Tensor paste_known(const Tensor& z, const Tensor& condition, int64_t mask_channels);
// Which latent frames a condition gives whole (all their mask channels 1).
std::vector<bool> known_latent_frames(const Tensor& condition, int64_t mask_channels);

// Wan2.2 TI2V: x [1, C, T', h, w] with latent frame 0 replaced by first [1, C, 1, h, w].
Tensor replace_first_latent(const Tensor& x, const Tensor& first);
// Wan2.2 TI2V's per-token timesteps [1, N] for a latent of `shape` [1, C, T', h, w] under the
// DiT's patch grid: 0 for the tokens of latent frame 0, t for the rest.
Tensor first_frame_timesteps(float t, const Shape& shape, const DiTConfig& dit);

// The text-to-video schedule of a request: Wan's (ModelManifest::wan_schedule) or kinema's own.
ScheduleOptions sampling_schedule(const ModelManifest& manifest, const GenerateRequest& request, double shift);

// SDEdit's schedule: the flow schedule of `steps` steps cut to start at sigma = strength
// (shift applied), with about steps·strength steps. strength in (0, 1].
Schedule edit_schedule(int steps, double shift, double strength);

// torch.nn.functional.interpolate(mode="bicubic", align_corners=False): [B, C, H, W] -> out size.
Tensor resize_bicubic(const Tensor& x, int64_t out_h, int64_t out_w);

// MemAvailable from /proc/meminfo (8 GiB where it cannot be read).
int64_t available_bytes();

// The DiT's weights as PipelineLoadOptions::dit_type asks (unchanged when unset).
TensorFile dit_weights(TensorFile file, const PipelineLoadOptions& options);

// Pipeline::generate with request.reference given in front (reference.cpp).
GenerateResult generate_with_reference(const Pipeline& pipe, const GenerateRequest& request,
                                       const std::function<void(const GenerateProgress&)>& progress);

}  // namespace kinema::detail
