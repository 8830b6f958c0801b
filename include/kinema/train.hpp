// Training the DiT with flow matching (rectified flow), as in SD3 and Wan:
//   x_t = (1 - t) x0 + t eps,   target velocity v = eps - x0,   loss = MSE(DiT(x_t, 1000 t, text), v)
// with t drawn from a logit-normal distribution and shifted towards noise for larger latents
// (t' = s t / (1 + (s - 1) t)), 10% caption dropout for classifier-free guidance, and frame
// conditioning patterns (docs/conditioning.md) when the DiT's in_dim > out_dim.
//
// Around it: AdamW with linear warm-up + cosine decay, gradient clipping, accumulation over
// micro-batches, an f32 EMA of the weights, bf16 compute, checkpoints that resume bit-identically
// (model, EMA, optimizer moments, step, data position, RNG state), a progress bar and a CSV log.
// docs/train.md gives the recipe, the checkpoint layout and the resume command.
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kinema/dist.hpp"
#include "kinema/dit.hpp"
#include "kinema/optim.hpp"
#include "kinema/tensor.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/text_encoder.hpp"
#include "kinema/tokenizer.hpp"

namespace kinema {

// ---- random numbers whose whole state is two integers (saved in checkpoints) ---------------
// PCG-XSH-RR 32 (O'Neill). Normals by Box-Muller without a cached second value, so the state
// is exactly (state, inc).
class TrainRng {
 public:
  explicit TrainRng(uint64_t seed = 0, uint64_t stream = 0);
  uint32_t next_u32();
  float uniform();  // [0, 1)
  float normal();   // N(0, 1)
  uint64_t state() const { return state_; }
  uint64_t inc() const { return inc_; }
  void restore(uint64_t state, uint64_t inc) { state_ = state, inc_ = inc; }

 private:
  uint64_t state_ = 0, inc_ = 1;
};

// ---- data -----------------------------------------------------------------------------------
// One training example: a clean latent clip and its caption's text-encoder tokens.
struct LatentSample {
  Tensor latent;              // [C, T, H, W] (VAE-encoded, already scaled/normalised)
  Tensor context;             // [L, text_dim] text encoder output for the caption
  int64_t context_len = -1;   // valid tokens in context; -1 = all L
  // The caption's token ids (eos included), for a trainer that trains the text encoder with
  // the DiT: it encodes them itself, and context may then be left undefined.
  std::vector<int32_t> caption_ids;
  // Optional fixed frame conditioning [in_dim - C, T, H, W] = [mask | known latents], e.g. a
  // subject's reference frames placed in front; when set it replaces the sampled pattern
  // (only used by models with in_dim > out_dim).
  Tensor condition;
  // Optional weight of each latent position's flow loss [T, H, W], mean 1 (e.g. the world's
  // object pixels weighted up, world::object_loss_weight); undefined = every position alike.
  Tensor loss_weight;
  // Optional class shares of each latent position [T, H, W, K] (sum 1 over K; e.g. which world
  // shape covers it, world::shape_shares): targets of the shape-label loss (token_label_loss).
  Tensor token_labels;
  // Optional layout map [K, T, H, W] for a DiT with layout_channels == K (e.g. the world's
  // object_layout); undefined = no plan (zeros).
  Tensor layout;
};

// What the trainer reads. The world -> VAE -> latent path implements this next; the synthetic
// set below stands in for it. get() must be deterministic in index (resume relies on it).
class LatentDataset {
 public:
  virtual ~LatentDataset() = default;
  virtual int64_t size() const = 0;
  virtual LatentSample get(int64_t index) const = 0;
  // The text encoder's output for the empty caption [L0, text_dim]: what caption dropout
  // substitutes, and what classifier-free guidance samples against.
  virtual Tensor empty_context() const = 0;
  // The empty caption's token ids (eos only), for joint text-encoder training; {} when the
  // data set has no tokens.
  virtual std::vector<int32_t> empty_caption_ids() const { return {}; }
  // Samples of one bucket have one latent shape; a micro-batch never mixes buckets. Must be a
  // pure (and cheap) function of index: resume recomputes it for every position drawn so far.
  virtual std::string bucket(int64_t /*index*/) const { return ""; }
};

struct SyntheticLatentOptions {
  int64_t count = 8;
  int64_t channels = 4, frames = 2, height = 4, width = 4;
  int64_t text_len = 6, text_dim = 32;
  uint64_t seed = 1;
};

// count latents, each a smooth random pattern (per channel a plane wave plus an offset, values
// of order 1, so a tiny DiT can learn it), with its own random text context [text_len,
// text_dim]; everything is a function of (seed, index).
class SyntheticLatentDataset final : public LatentDataset {
 public:
  explicit SyntheticLatentDataset(const SyntheticLatentOptions& options = {});
  int64_t size() const override { return options_.count; }
  LatentSample get(int64_t index) const override;
  Tensor empty_context() const override;

 private:
  SyntheticLatentOptions options_;
};

// Epoch-wise shuffled order over a dataset; its position is one integer (samples consumed),
// the permutation of epoch e is a function of (seed, e) alone.
class DataOrder {
 public:
  DataOrder(int64_t size, uint64_t seed);
  int64_t next();  // the next dataset index
  int64_t position() const { return position_; }
  void seek(int64_t position);

 private:
  void build_epoch(int64_t epoch);
  int64_t size_;
  uint64_t seed_;
  int64_t position_ = 0, epoch_ = -1;
  std::vector<int64_t> perm_;
};

// ---- flow matching --------------------------------------------------------------------------
// SD3's timestep shift: maps t in [0, 1] towards 1 (more noise) for shift > 1.
float shift_timestep(float t, float shift);
// Resolution-dependent shift (SD3 section 5.3.2): sqrt(tokens / base_tokens), at least 1.
float resolution_shift(int64_t tokens, int64_t base_tokens);

// Which latent frames are given to the model (docs/conditioning.md's training mix).
enum class ConditionPattern { none, first_frame, first_k, last_k, first_and_last, scattered,
                              from_sample };  // from_sample: LatentSample::condition
const char* condition_pattern_name(ConditionPattern p);

struct FlowMatchingOptions {
  float logit_mean = 0.f, logit_std = 1.f;  // t = sigmoid(N(mean, std))
  float shift = 0.f;            // > 0: fixed shift; 0: resolution_shift(tokens, base_tokens)
  int64_t base_tokens = 256;    // tokens at which the automatic shift is 1
  float caption_dropout = 0.1f; // probability of the empty caption per sample
  // Pattern mix when the model takes conditioning (in_dim > out_dim); docs/conditioning.md's
  // "reference in front" share (5%) is folded into first_k until references exist in data.
  float p_none = 0.40f, p_first_frame = 0.20f, p_first_k = 0.15f, p_last_k = 0.10f,
        p_first_and_last = 0.10f, p_scattered = 0.05f;
  // Outline-blind inputs: with probability blur_prob, a sample whose t >= blur_min_t sees x_t made
  // from its latent blurred in space (Gaussian, sigma uniform in [blur_sigma_min, blur_sigma_max]
  // latent pixels) and is taught the velocity whose clean estimate x_t - t v is the sharp latent,
  // v = (x_t - x0) / t. The outlines x_t no longer shows must then come from the caption: plain
  // training never needs the shape word where x_t already shows the outline (docs/train.md).
  float blur_prob = 0.f, blur_min_t = 0.5f, blur_sigma_min = 0.5f, blur_sigma_max = 2.f;
  // Probability that a sample's layout map is withheld (zeros), so the model also generates
  // from text alone and "no plan" stays meaningful. Drawn only for samples that carry a layout.
  float layout_drop = 0.15f;
};

// Throws a kinema::Error naming the flag when the options are out of range.
void check_flow_options(const FlowMatchingOptions& options);

// One micro-batch, ready for DiT::forward.
struct FlowBatch {
  Tensor x_t;        // [B, C, T, H, W]
  Tensor timesteps;  // [B] in [0, 1000]
  Tensor context;    // [B, L, text_dim] (padded to the longest); undefined when captions is used
  std::vector<int64_t> context_lens;
  // When the samples carry caption_ids and no context: the captions (dropped ones replaced by
  // the empty caption) for the trainer's own text encoder; lengths are the valid tokens.
  TokenBatch captions;
  Tensor condition;  // [B, in_dim - C, T, H, W] = [mask (in_dim - 2C) | known latents (C)]; or undefined
  Tensor velocity;   // [B, C, T, H, W] target eps - x0
  Tensor loss_weight;  // [B, C, T, H, W] from the samples' loss_weight (same over C); or undefined
  // [B, N, K]: the samples' token_labels averaged over each token's patch (N in (t, h, w) order,
  // as DiT::forward's tokens); undefined when the samples carry none.
  Tensor token_targets;
  Tensor layout;  // [B, K, T, H, W] from the samples' layout (dropped ones zero); or undefined
  int dropped_layouts = 0;
  std::vector<float> t;  // the sampled (shifted) t per sample
  std::vector<ConditionPattern> patterns;
  std::vector<char> dropped;  // per sample: 1 where its caption was dropped (the empty caption)
  int dropped_captions() const { return int(std::count(dropped.begin(), dropped.end(), char(1))); }
  int blurred = 0;  // samples given outline-blind inputs
};

// Builds a batch from samples (all latents of one shape), drawing t, noise, dropout and the
// conditioning pattern from rng. condition_channels = model in_dim - C (0 = no conditioning).
// Samples without a context but with caption_ids give b.captions (empty_ids for dropped ones)
// instead of b.context; the random draws are the same either way.
// The per-sample generators make_flow_batch seeds from rng (two draws each): a rank that skips
// another rank's micro-batch draws them too, to stay in step.
std::vector<TrainRng> sample_generators(TrainRng& rng, int64_t count);
FlowBatch make_flow_batch(const std::vector<LatentSample>& samples, const Tensor& empty_context,
                          int64_t condition_channels, const DiTConfig& model,
                          const FlowMatchingOptions& options, TrainRng& rng,
                          const std::vector<int32_t>& empty_ids = {});

// The shape-label loss (`train dit --shape-labels W`): hidden [B, N, D] tokens (a block's
// output) read by a fixed linear probe, their first K channels taken as logits, against soft
// targets [B, N, K] (token_targets): mean over tokens of -sum_k target_k log softmax(logits)_k.
// No new weights: the probe is the residual stream itself, so the block must carry the class of
// every token in K of its channels (a REPA-style representation target the world gives exactly).
Tensor token_label_loss(const Tensor& hidden, const Tensor& targets);

// Model guidance (Tang et al. 2025, "Diffusion Models without Classifier-free Guidance"): the
// velocity target of every sample whose caption was kept moves by w x (conditional minus
// unconditional prediction of the model itself, no gradient); dropped samples keep the plain
// target. Its fixed point is the conditional branch u + d / (1 - w) (u the unconditional
// prediction, d the plain conditional's difference from it): what classifier-free guidance at
// scale 1 / (1 - w) samples, in one forward pass and learnt on the data's own x_t. velocity,
// conditional and unconditional are [B, ...] of one shape; dropped has B entries; 0 <= w < 1.
Tensor model_guided_velocity(const Tensor& velocity, const Tensor& conditional, const Tensor& unconditional,
                             const std::vector<char>& dropped, float w);

// A loss curve without the sampling noise of training batches: the mean velocity MSE over every
// sample x every t below, with noise from a fixed seed and the full captions (no dropout; no
// conditioning frames given unless the sample brings its own condition).
struct FlowEvalOptions {
  std::vector<float> t = {0.1f, 0.3f, 0.5f, 0.7f, 0.9f};
  uint64_t seed = 1234;
  DType compute = DType::f32;
};
// The training loss: the mean square of prediction - b.velocity, each position weighted by
// b.loss_weight when the samples gave one (the plain mse_loss otherwise).
Tensor flow_loss(const Tensor& prediction, const FlowBatch& b);

float evaluate_flow_loss(const DiT& model, const LatentDataset& data, const FlowEvalOptions& options = {});

// ---- schedule -------------------------------------------------------------------------------
struct LrSchedule {
  float peak = 1e-4f;
  int64_t warmup_steps = 0;  // linear from peak / warmup to peak
  int64_t total_steps = 1;   // cosine from peak (after warm-up) to min_ratio * peak at total
  float min_ratio = 0.1f;
  float at(int64_t step) const;  // step counts from 0
};

// ---- what every trainer shares --------------------------------------------------------------
// Optimiser, schedule and bookkeeping options common to the DiT, VAE and text-encoder trainers.
struct TrainLoopOptions {
  int64_t batch_size = 2;       // samples per micro-batch
  int64_t accumulation = 1;     // micro-batches per optimizer step
  LrSchedule lr;
  AdamWOptions adamw;           // adamw.lr is overwritten by the schedule each step
  float clip_norm = 1.0f;       // 0 = no clipping
  float ema_decay = 0.999f;     // 0 = no EMA; step n uses min(decay, (n + 1) / (n + 10))
  uint64_t seed = 0;            // data order and the trainer's RNG
  // Data parallelism (docs/train.md, "Many machines"): ranks split each step's micro-batches
  // (accumulation of them per rank) and sum their gradients; every rank walks the same data
  // order and RNG, so N ranks x accumulation K take the step 1 rank takes with N x K. nullptr:
  // one rank. shard_optimizer: ZeRO-1/2 (ShardedAdamW) instead of an all-reduce + AdamW.
  Communicator* comm = nullptr;
  bool shard_optimizer = false;
  // What the ranks split: each step's micro-batches (data), or the tokens of every micro-batch
  // (sequence: all ranks take the same samples and split each DiT forward, Ulysses, for clips too
  // long for one rank; DiT only). Either way the ranks' gradients are summed.
  enum class Split { data, sequence } split = Split::data;
  // Learning-rate multipliers by checkpoint key: a parameter whose key contains `key_part` gets
  // its lr (and weight decay) times `scale`; the first match counts, others keep 1.
  struct LrScale { std::string key_part; float scale = 1; };
  std::vector<LrScale> lr_scales;
};

struct StepStats {
  int64_t step = 0;       // optimizer steps done after this one
  float loss = 0;         // mean over the micro-batches
  float lr = 0;
  float grad_norm = 0;    // before clipping
  double seconds = 0;     // wall time of this step
};

// The state a trainer checkpoints besides its model's forward: f32 master parameters (named by
// their checkpoint keys), AdamW, the EMA, the step count, the data order and the RNG. save()
// writes dir/step-NNNNNNNN/{model,ema,optimizer,trainer}.safetensors through a temporary
// directory and a rename, then points dir/latest at it; load() restores all of it in place
// (the optimizer keeps references to the parameters) and refuses a checkpoint of another
// format, data set size, key set or shape.
//
// frozen: tensors of the model that do not train (a VAE's encoder under a decoder being
// trained): no optimizer state, no EMA, but the saved model files hold them, and load()
// requires them there with the very same values (a run resumed on another encoder would
// continue in another latent space).
class TrainState {
 public:
  TrainState(std::string format, std::vector<std::string> keys, std::vector<Tensor> params,
             int64_t dataset_size, const TrainLoopOptions& options, uint64_t rng_stream,
             std::map<std::string, Tensor> frozen = {});
  // After the micro-batches' backward: clip, set the scheduled lr, AdamW step, zero the grads,
  // update the EMA, count the step. Fills s.grad_norm, s.lr and s.step.
  void finish_step(StepStats& s);
  // A step's micro-batches over all ranks, and whether this rank computes micro-batch m (the
  // others only advance the data order and RNG past it).
  int64_t micro_batches() const { return options_.accumulation * data_ranks(); }
  bool owns_micro_batch(int64_t m) const { return m % data_ranks() == rank() % data_ranks(); }
  // Scale of one micro-batch's loss so that the ranks' summed gradients are the step's mean.
  float loss_scale() const { return 1.f / float(micro_batches()); }
  // The step's mean loss from this rank's sum over its micro-batches (collective).
  float mean_loss(double local_sum) const;
  int ranks() const { return comm_ ? comm_->size() : 1; }
  // Ranks that take different samples: all of them, or 1 when they split tokens.
  int data_ranks() const { return options_.split == TrainLoopOptions::Split::sequence ? 1 : ranks(); }
  int rank() const { return comm_ ? comm_->rank() : 0; }
  int64_t optimizer_state_bytes() const;

  DataOrder& order() { return order_; }
  TrainRng& rng() { return rng_; }
  int64_t step() const { return step_; }
  int64_t data_position() const { return order_.position(); }
  const std::vector<Tensor>& params() const { return params_; }
  // model with every parameter replaced by its EMA (model itself when there is no EMA).
  TensorFile with_ema(TensorFile model) const;
  std::string save(const std::string& dir, const TensorFile& model) const;
  void load(const std::string& dir);

 private:
  std::string format_;
  std::vector<std::string> keys_;
  std::vector<Tensor> params_, ema_;
  std::map<std::string, Tensor> frozen_;
  int64_t dataset_size_;
  TrainLoopOptions options_;
  Communicator* comm_ = nullptr;
  std::unique_ptr<AdamW> adamw_;
  std::unique_ptr<ShardedAdamW> sharded_;
  DataOrder order_;
  TrainRng rng_;
  int64_t step_ = 0;
};

// ---- DiT trainer ----------------------------------------------------------------------------
struct TrainerOptions : TrainLoopOptions {
  DType compute = DType::f32;   // f32 or bf16 matmuls (master weights stay f32)
  DiTCheckpointing checkpointing = DiTCheckpointing::none;
  FlowMatchingOptions flow;
  // > 0: the loss adds label_weight x token_label_loss of block label_block's output (the data
  // must give token_labels, e.g. world data with shape labels).
  float label_weight = 0;
  int label_block = 3;
  // > 0: model guidance at weight w (model_guided_velocity; 0 <= w < 1): one more forward pass
  // without gradients per micro-batch, for the unconditional prediction.
  float model_guidance = 0;
};

// Micro-batches and buckets: the trainer draws indices from the shuffled DataOrder into one
// queue per LatentDataset::bucket, in order of arrival. A step's first micro-batch is the first
// queue to hold batch_size indices, and the step's other micro-batches (accumulation x ranks)
// come from the same bucket, so every rank does work of one shape and none waits for another
// at the all-reduce. Indices left in other queues wait for later steps, across epochs. The
// queues are a function of the data position alone (replay the steps from position 0), so a
// checkpoint stores only the position and load() rebuilds the queues. With one bucket this is
// exactly "the next batch_size indices of the order" for each micro-batch.
//
// Joint text training: given a trainable text encoder, the trainer encodes each sample's
// caption_ids itself and the flow loss's gradient trains the encoder with the DiT (one
// optimizer, one EMA, one checkpoint). Checkpoint files then hold both models, the encoder's
// tensors and metadata under "text_encoder." (join_text_encoder / split_text_encoder).
class DiTTrainer {
 public:
  // The model (and text encoder) must outlive the trainer; parameters are updated in place.
  DiTTrainer(DiT& model, const LatentDataset& data, const TrainerOptions& options,
             TextEncoder* text_encoder = nullptr);
  StepStats step();
  int64_t steps_done() const { return state_.step(); }
  int64_t data_position() const { return state_.data_position(); }
  int64_t optimizer_state_bytes() const { return state_.optimizer_state_bytes(); }
  // EMA weights in the model's checkpoint layout (DiT::from_tensors loads them; with a text
  // encoder, split_text_encoder first).
  TensorFile ema_tensors() const;

  // Checkpoints (TrainState::save / load) with format "kinema.train.dit/1" (with a text
  // encoder: "kinema.train.dit+text/1").
  std::string save(const std::string& dir) const;
  void load(const std::string& dir);

  // The dataset indices of the next micro-batch (all of one bucket); advances the data order.
  std::vector<int64_t> next_micro_batch();
  // The next step's micro-batches (state micro_batches() of them, all of one bucket), as
  // step() draws them.
  std::vector<std::vector<int64_t>> next_step_micro_batches();

 private:
  Tensor unconditional_prediction(const FlowBatch& b, DiTForwardOptions fo) const;
  TensorFile model_tensors() const;

  DiT& model_;
  const LatentDataset& data_;
  TrainerOptions options_;
  TextEncoder* text_;
  TrainState state_;
  std::map<std::string, std::vector<int64_t>> pending_;  // per-bucket indices drawn, not yet used
};

// One file for a DiT and the text encoder trained with it: the encoder's tensors and metadata
// keys get the prefix "text_encoder.". split_text_encoder undoes it (the second file is empty
// when there is no encoder); a DiT key with the prefix is an error.
inline constexpr const char* kTextEncoderPrefix = "text_encoder.";
TensorFile join_text_encoder(TensorFile dit, const TensorFile& text_encoder);
std::pair<TensorFile, TensorFile> split_text_encoder(const TensorFile& joint);

// Resolves dir/latest (or dir itself if it is a checkpoint) to a checkpoint directory;
// returns "" when dir holds none.
std::string find_checkpoint(const std::string& dir);

// Removes all but the newest `keep` dir/step-NNNNNNNN checkpoints (keep >= 1; the one
// dir/latest names always stays, and nothing else in dir is touched). Returns how many went.
int64_t prune_checkpoints(const std::string& dir, int64_t keep);

// ---- progress -------------------------------------------------------------------------------
// A one-line bar on stderr: "step 3/6 [#####     ] 2.1 it/s loss 0.1234 ETA 0:02".
class ProgressBar {
 public:
  ProgressBar(int64_t first, int64_t total);
  void update(const StepStats& s);
  void finish();

 private:
  int64_t first_, total_;
  double elapsed_ = 0;
};

// Appends "step,loss,lr,grad_norm,seconds" rows to path; when opened for a resumed run, rows
// past `keep_until_step` (steps redone after the checkpoint) are dropped first.
class CsvLog {
 public:
  CsvLog(const std::string& path, int64_t keep_until_step);
  void write(const StepStats& s);

 private:
  std::string path_;
};

}  // namespace kinema
