// Flow-matching samplers in three parts (docs/sampling.md): a schedule of noise levels, a
// denoiser that turns a model into a guided velocity, and a stepper that integrates the ODE.
//
// Convention (rectified flow, as Wan2.1 and SD3 train, docs/train.md): a latent at noise level
// σ ∈ [0, 1] is x_σ = (1 − σ)·x0 + σ·ε, the model predicts the velocity v = ε − x0, and the
// sample follows dx/dσ = v from σ = σ_0 (noise) down to σ = 0. The data prediction a
// multistep solver needs is x0 = x − σ·v.
//
// Schedule (Wan's FlowUniPCMultistepScheduler.set_timesteps, its default text-to-video path):
//   σ'_k = σ_max·(1 − k/N), k = 0 … N−1   (numpy's linspace(σ_max, 0, N+1)[:-1], in float64)
//   σ_k  = s·σ'_k / (1 + (s − 1)·σ'_k)     (the shift; s > 1 spends more steps near noise)
//   σ_N  = 0                               (final_sigmas_type "zero")
// with σ_max = float32(1 − 1/1000) = 0.99900001, the largest σ of Wan's 1000-step training
// grid. Wan's dpm++ path (get_sampling_sigmas) uses σ_max = 1 instead: set sigma_max = 1.
// The model sees timestep int64(1000·σ_k), truncated in float64 as Wan does (TimestepMode).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kinema/tensor.hpp"

namespace kinema {

// ---- schedule ---------------------------------------------------------------------------------
inline constexpr double kWanSigmaMax = double(0.999f);  // float32(1 − 1/1000), widened

enum class TimestepMode {
  wan_truncated,  // int64(1000·σ) computed in float64, what Wan2.1's DiT receives
  exact,          // 1000·σ, what kinema's trainer feeds (docs/train.md)
};

struct ScheduleOptions {
  int steps = 50;                   // N model steps; N + 1 sigmas
  double shift = 5.0;               // s in s·σ/(1 + (s − 1)·σ); Wan: 5 for 480p-720p t2v
  double sigma_max = kWanSigmaMax;  // the unshifted first sigma, in (0, 1]
  TimestepMode timesteps = TimestepMode::wan_truncated;
};

struct Schedule {
  std::vector<float> sigmas;     // N + 1 values, strictly decreasing, sigmas[N] = 0
  std::vector<float> timesteps;  // N values: what the DiT sees at sigmas[0 … N−1]
  int steps() const { return int(timesteps.size()); }
};

// s·σ/(1 + (s − 1)·σ): SD3's resolution shift (§5.3.2), the same map the trainer applies.
double shift_sigma(double sigma, double shift);
Schedule flow_schedule(const ScheduleOptions& options);

// ---- denoiser ---------------------------------------------------------------------------------
struct ModelCall {
  float sigma = 1;         // noise level of x
  float timestep = 1000;   // the schedule's timestep for sigma (what the DiT embeds)
  bool conditional = true; // false: the negative-prompt ("uncond") branch of guidance
};
// Returns the model's velocity for x, same shape as x.
using ModelFn = std::function<Tensor(const Tensor& x, const ModelCall& call)>;

// Adaptive projected guidance (APG, arXiv 2410.02416): the guidance step in data space split
// along the conditional x0 estimate, whose part there (η = parallel) oversaturates at high
// scales, and its RMS per latent frame capped (norm_cap, in latent units; 0: no cap).
// parallel = 1 and norm_cap = 0 are plain classifier-free guidance.
struct ProjectedGuidance {
  float parallel = 1.0f, norm_cap = 0.0f;
  bool active() const { return parallel != 1.0f || norm_cap > 0; }
};

struct GuidanceOptions {
  float cfg = 5.0f;      // v = v_uncond + cfg·(v_cond − v_uncond); 1 = one conditional call
  float rescale = 0.0f;  // φ of Lin et al. 2023 (arXiv 2305.08891 §3.4), on the velocity
  // Wan2.2's two experts guide differently: the high-noise expert's scale while the timestep is
  // at or above high_from, `cfg` below it. Unset (high_from < 0): `cfg` throughout.
  float cfg_high = 0.0f, high_from = -1.0f;
  float cfg_at(float timestep) const { return high_from >= 0 && timestep >= high_from ? cfg_high : cfg; }
  // Per latent frame (axis 2 of a [B, C, T, H, W] latent), a share s of the guidance: that
  // frame's scale is 1 + (cfg - 1)·s. Empty: the full scale everywhere. Frames next to given
  // ones take less, so the text does not pull them away from what they continue.
  std::vector<float> frame_share;
  ProjectedGuidance projected;
};

// The frame shares of a guidance ramp: 0 at a given latent frame, d / ramp at d latent frames
// from the nearest given one, 1 from `ramp` frames on (and everywhere when none is given or
// ramp <= 1).
std::vector<float> guidance_ramp_shares(const std::vector<bool>& given, int ramp);

// Classifier-free guidance around a model. With φ > 0 the guided velocity v_cfg is blended with
// v_cfg·std(v_cond)/std(v_cfg) (unbiased std over every dim but the first, per batch item):
// v = φ·v_rescaled + (1 − φ)·v_cfg.
class Denoiser {
 public:
  explicit Denoiser(ModelFn model, GuidanceOptions options = {});
  Tensor velocity(const Tensor& x, float sigma, float timestep);  // guided, f32
  int64_t model_calls() const { return calls_; }

 private:
  ModelFn model_;
  GuidanceOptions options_;
  int64_t calls_ = 0;
};

// The guided velocity under projected guidance (see ProjectedGuidance; weight_per_frame holds
// each latent frame's guidance scale, one entry for a latent that is not [B, C, T, H, W]).
Tensor projected_guidance(const Tensor& x, float sigma, const Tensor& cond, const Tensor& uncond,
                          const std::vector<float>& weight_per_frame, const ProjectedGuidance& p);

// x0 = x − σ·v: the data prediction of a velocity.
Tensor velocity_to_x0(const Tensor& x, float sigma, const Tensor& velocity);

// ---- steppers ---------------------------------------------------------------------------------
// Evaluates the guided velocity at σ_next (Heun's second evaluation); steppers that do not
// need it never call it.
using NextVelocityFn = std::function<Tensor(const Tensor& x_next)>;

// What a stepper carries from one step to the next (a multistep method's earlier outputs), so
// sampling can stop after any step and later go on bit for bit: scalars (sigmas, orders; all
// exact in float32 since they come from the float schedule) and tensors.
struct StepperState {
  std::vector<double> scalars;
  std::vector<Tensor> tensors;
};

// One integrator of dx/dσ = v. step() moves x from sigma to sigma_next given the guided
// velocity at (x, sigma) and keeps whatever history a multistep method needs; reset() forgets
// it. A step with sigma_next = 0 is the final one (multistep methods drop to first order there,
// Wan's lower_order_final).
class Stepper {
 public:
  virtual ~Stepper() = default;
  virtual std::string_view name() const = 0;
  virtual Tensor step(const Tensor& x, float sigma, float sigma_next, const Tensor& velocity,
                      const NextVelocityFn& next_velocity) = 0;
  virtual void reset() = 0;
  // The state after the last step, and putting it back (a state from another stepper kind, or
  // malformed, is an Error). One-step methods have none.
  virtual StepperState save() const { return {}; }
  virtual void load(const StepperState& state);
};

// "euler", "heun", "unipc" (UniPC bh2, order 2, Wan's default), "dpm++" (DPM-Solver++ 2M,
// midpoint). Throws Error listing these for any other name.
std::unique_ptr<Stepper> make_stepper(std::string_view name);
const std::vector<std::string>& sampler_names();

// ---- driver -----------------------------------------------------------------------------------
struct SampleProgress {
  int step = 0;              // steps done, 1 … steps
  int steps = 0;
  float sigma = 0, sigma_next = 0;
  int64_t model_calls = 0;   // model evaluations so far (cond and uncond counted separately)
  const Tensor* x = nullptr; // the latent after this step
  // The step's data prediction x0 = x − σ·v from its (first, guided) velocity: what the
  // sampler is heading for, decodable as a preview of the finished clip.
  const Tensor* denoised = nullptr;
};

// The sampler after `step` steps: enough to go on exactly as if it had never stopped (kinema
// serve writes one per step, so a killed render resumes from its last step).
struct SampleCheckpoint {
  int step = 0;       // steps done, 1 … steps
  Tensor x;           // the latent after them
  StepperState stepper;
};

struct SampleOptions {
  std::string sampler = "unipc";
  GuidanceOptions guidance = {};
  std::function<void(const SampleProgress&)> progress = {};  // called after every step
  std::function<void(const SampleCheckpoint&)> checkpoint = {};  // after every step but the last
  const SampleCheckpoint* resume = nullptr;  // start after resume->step steps from its state
};

// Integrates from `noise` (the latent at schedule.sigmas[0]) down to the schedule's last sigma
// and returns the latent there (x0 when the schedule ends at 0). Runs without autograd.
Tensor sample(const ModelFn& model, const Tensor& noise, const Schedule& schedule,
              const SampleOptions& options = {});

}  // namespace kinema
