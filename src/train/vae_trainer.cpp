// The VAE trainer: per-sample reconstruction + KL, accumulated over a batch of clips of any
// shapes, then the shared TrainState's clip / AdamW / EMA step; or the decoder alone, on the
// latents of the frozen encoder.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/vae_train.hpp"

namespace kinema {
namespace {

// The model's parameters split into what trains (keys, params) and what stays (frozen).
struct TrainedSplit {
  std::vector<std::string> keys;
  std::vector<Tensor> params;
  std::map<std::string, Tensor> frozen;
};

TrainedSplit split_parameters(const VAE& model, VaeTrainedPart part) {
  TrainedSplit s;
  for (const auto& [key, shape] : vae_parameter_shapes(model.config())) {
    if (part == VaeTrainedPart::decoder && !is_vae_decoder_key(key)) {
      s.frozen[key] = model.weight(key);
    } else {
      s.keys.push_back(key);
      s.params.push_back(model.weight(key));
    }
  }
  return s;
}

TrainState make_state(const VAE& model, int64_t dataset_size, const VaeTrainerOptions& options) {
  TrainedSplit s = split_parameters(model, options.trained);
  const bool decoder = options.trained == VaeTrainedPart::decoder;
  return TrainState(decoder ? "kinema.train.vae-decoder/1" : "kinema.train.vae/1", std::move(s.keys),
                    std::move(s.params), dataset_size, options, 0x7661652d6b6eULL, std::move(s.frozen));
}

Tensor batch_of_one(const Tensor& clip) {
  const Shape& s = clip.shape();
  check(s.size() == 4 && s[0] == 3, "VaeTrainer", "a data set clip must be [3, T, H, W]; got ",
        shape_str(s));
  return reshape(clip, {1, s[0], s[1], s[2], s[3]});
}

// [3, 3, 1, 1, 1]: RGB error -> (luma, w (R - G), w (R + G - 2B)), orthonormal when w = 1.
Tensor opponent_basis(float w) {
  const float a = 1.f / std::sqrt(3.f), b = w / std::sqrt(2.f), c = w / std::sqrt(6.f);
  return Tensor::from_vector({a, a, a, b, -b, 0.f, c, c, -2.f * c}, {3, 3, 1, 1, 1});
}

// [3, 3, 2, 1, 1]: each channel's change from one frame to the next.
Tensor frame_difference_kernel() {
  std::vector<float> w(3 * 3 * 2, 0.f);
  for (int c = 0; c < 3; ++c) w[size_t((c * 3 + c) * 2)] = -1.f, w[size_t((c * 3 + c) * 2 + 1)] = 1.f;
  return Tensor::from_vector(w, {3, 3, 2, 1, 1});
}

// A clip's [C, T, H, W] extents, refusing any other rank (a batch of one is taken as its clip).
struct ClipExtents {
  int64_t C, T, HW;
};
ClipExtents clip_extents(const Tensor& clip, const char* who) {
  check(clip.ndim() == 4 || (clip.ndim() == 5 && clip.size(0) == 1), who,
        "a clip must be [C, T, H, W] or [1, C, T, H, W]; got ", shape_str(clip.shape()));
  return {clip.size(-4), clip.size(-3), clip.size(-2) * clip.size(-1)};
}

}  // namespace

Tensor vae_reconstruction_loss(const Tensor& decoded, const Tensor& x, const VaeTrainerOptions& o) {
  check(o.motion_weight >= 0 && std::isfinite(o.motion_weight), "VaeTrainer", "the motion weight must be >= 0; got ",
        o.motion_weight);
  Tensor diff = sub(decoded, x);
  if (o.chroma_weight != 1.f) diff = conv3d(diff, opponent_basis(o.chroma_weight));
  Tensor loss = add(scale(mean(relu(diff) + relu(neg(diff))), o.l1_weight), scale(mean(square(diff)), o.l2_weight));
  if (o.motion_weight > 0 && diff.size(-3) > 1)
    loss = add(loss, scale(mean(square(conv3d(diff, frame_difference_kernel()))), o.motion_weight));
  return loss;
}

VaeTrainer::VaeTrainer(VAE& model, const VideoDataset& data, const VaeTrainerOptions& options)
    : model_(model),
      data_(data),
      options_(options),
      state_(make_state(model, data.size(), options)) {
  check(options.split == TrainLoopOptions::Split::data, "VaeTrainer",
        "the VAE trains data-parallel only (sequence parallelism splits the DiT's tokens)");
  check(options.compute == DType::f32 || options.compute == DType::bf16, "VaeTrainer",
        "compute must be f32 or bf16; got ", dtype_name(options.compute));
}

Tensor VaeTrainer::clip_loss(const Tensor& x, uint64_t noise_seed) const {
  VaeRunOptions whole;
  whole.chunking = VaeChunking::whole;  // training clips are short: one pass, same result
  whole.compute = options_.compute;
  const bool frozen_encoder = options_.trained == VaeTrainedPart::decoder;
  VaeLatent lat;
  {
    // A frozen encoder builds no graph: no gradients reach it, and no activations are kept.
    std::optional<NoGradGuard> no_grad;
    if (frozen_encoder) no_grad.emplace();
    VaeRunOptions encode = whole;
    // A frozen encoder runs in f32: the decoder learns the latents the DiT's cache holds.
    if (frozen_encoder) encode.compute = DType::f32;
    lat = model_.encode(x, encode);
  }
  Tensor z = options_.decoder_input == VaeDecoderInput::mean ? lat.mu : vae_sample(lat, noise_seed);
  Tensor loss = vae_reconstruction_loss(model_.decode(z, whole), x, options_);
  if (!frozen_encoder && options_.kl_weight > 0) loss = add(loss, scale(vae_kl(lat), options_.kl_weight));
  return loss;
}

StepStats VaeTrainer::step() {
  auto t0 = std::chrono::steady_clock::now();
  // A micro-batch is batch_size clips, one at a time; ranks take turns by micro-batch.
  const int64_t n = options_.batch_size * state_.micro_batches();
  double loss_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t index = state_.order().next();
    // The reparameterisation noise comes from the trainer's RNG, so resume replays it.
    const uint64_t noise_seed = (uint64_t(state_.rng().next_u32()) << 32) | state_.rng().next_u32();
    if (!state_.owns_micro_batch(i / options_.batch_size)) continue;
    Tensor loss = clip_loss(batch_of_one(data_.get(index)), noise_seed);
    loss_sum += loss.item();
    backward(scale(loss, 1.f / float(n)));  // the step's gradient is the mean over its clips
  }
  StepStats s;
  s.loss = state_.mean_loss(loss_sum / double(options_.batch_size));
  state_.finish_step(s);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

TensorFile VaeTrainer::ema_tensors() const { return state_.with_ema(model_.to_tensors()); }
std::string VaeTrainer::save(const std::string& dir) const { return state_.save(dir, model_.to_tensors()); }
void VaeTrainer::load(const std::string& dir) { state_.load(dir); }

std::vector<double> frame_squared_errors(const Tensor& decoded, const Tensor& original) {
  check(decoded.shape() == original.shape(), "psnr", "shapes differ: ", shape_str(decoded.shape()),
        " vs ", shape_str(original.shape()));
  const auto [C, T, HW] = clip_extents(decoded, "psnr");
  std::vector<float> a = decoded.to_vector(), b = original.to_vector();
  std::vector<double> se(size_t(T), 0.0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = (c * T + t) * HW, end = i + HW; i < end; ++i) {
        // [-1, 1] -> [0, 1], clamped as a written video would be.
        const double u = std::clamp((double(a[size_t(i)]) + 1) / 2, 0.0, 1.0), v = (double(b[size_t(i)]) + 1) / 2;
        se[size_t(t)] += (u - v) * (u - v);
      }
  for (double& e : se) e /= double(std::max<int64_t>(1, C * HW));
  return se;
}

std::vector<double> frame_changes(const Tensor& clip) {
  const auto [C, T, HW] = clip_extents(clip, "frame_changes");
  std::vector<float> a = clip.to_vector();
  for (float& f : a) f = std::clamp((f + 1.f) / 2.f, 0.f, 1.f);  // [-1, 1] -> [0, 1], as written
  std::vector<double> change(size_t(std::max<int64_t>(0, T - 1)), 0.0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t + 1 < T; ++t)
      for (int64_t i = (c * T + t) * HW, end = i + HW; i < end; ++i)
        change[size_t(t)] += std::abs(double(a[size_t(i + HW)]) - double(a[size_t(i)]));
  for (double& d : change) d /= double(std::max<int64_t>(1, C * HW));
  return change;
}

double psnr_of_mse(double mse) { return mse > 0 ? -10.0 * std::log10(mse) : 99.0; }

double psnr(const Tensor& decoded, const Tensor& original) {
  const std::vector<double> se = frame_squared_errors(decoded, original);
  double mse = 0;
  for (double e : se) mse += e;
  return psnr_of_mse(se.empty() ? 0.0 : mse / double(se.size()));
}

double vae_psnr(const VAE& model, const Tensor& video, VaeChunking chunking) {
  NoGradGuard no_grad;
  VaeRunOptions run;
  run.chunking = chunking;
  Tensor x = batch_of_one(video);
  return psnr(model.decode(model.encode(x, run).mu, run), x);
}

Tensor group_mean_frames(const Tensor& clip, int64_t group) {
  const auto [C, T, HW] = clip_extents(clip, "group_mean_frames");
  check(group >= 1, "group_mean_frames", "the group must be >= 1 frame; got ", group);
  std::vector<float> v = clip.to_vector();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t first = 1; first < T; first += group) {
      const int64_t last = std::min(T, first + group);
      float* base = v.data() + (c * T) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        double s = 0;
        for (int64_t t = first; t < last; ++t) s += base[t * HW + i];
        for (int64_t t = first; t < last; ++t) base[t * HW + i] = float(s / double(last - first));
      }
    }
  return Tensor::from_vector(v, clip.shape());
}

}  // namespace kinema
