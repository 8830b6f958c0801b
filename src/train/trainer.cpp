// The DiT trainer: flow-matching step with accumulation, clipping, AdamW, EMA; checkpoints.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"
#include "train/bucket_queues.hpp"

namespace fs = std::filesystem;

namespace kinema {

float LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) return peak * float(step + 1) / float(warmup_steps);
  int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  double progress = std::min(1.0, double(step - warmup_steps) / double(span));
  double cosine = 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  return float(peak * (min_ratio + (1.0 - min_ratio) * cosine));
}

TensorFile join_text_encoder(TensorFile dit, const TensorFile& text_encoder) {
  for (const auto& [key, t] : dit.tensors)
    check(key.rfind(kTextEncoderPrefix, 0) != 0, "join_text_encoder", "DiT key ", key,
          " already has the text encoder's prefix");
  for (const auto& [key, t] : text_encoder.tensors) dit.tensors[kTextEncoderPrefix + key] = t;
  for (const auto& [key, v] : text_encoder.metadata) dit.metadata[kTextEncoderPrefix + key] = v;
  return dit;
}

std::pair<TensorFile, TensorFile> split_text_encoder(const TensorFile& joint) {
  const std::string prefix = kTextEncoderPrefix;
  std::pair<TensorFile, TensorFile> out;
  for (const auto& [key, t] : joint.tensors)
    if (key.rfind(prefix, 0) == 0) out.second.tensors[key.substr(prefix.size())] = t;
    else out.first.tensors[key] = t;
  for (const auto& [key, v] : joint.metadata)
    if (key.rfind(prefix, 0) == 0) out.second.metadata[key.substr(prefix.size())] = v;
    else out.first.metadata[key] = v;
  return out;
}

namespace {
// Checkpoint keys and parameters: the DiT's, then the text encoder's under its prefix.
std::vector<std::string> trained_keys(const DiT& dit, const TextEncoder* text) {
  std::vector<std::string> keys;
  for (const auto& [key, shape] : dit_parameter_shapes(dit.config())) keys.push_back(key);
  if (text)
    for (const auto& [key, shape] : text_encoder_parameter_shapes(text->config()))
      keys.push_back(kTextEncoderPrefix + key);
  return keys;
}

std::vector<Tensor> trained_parameters(const DiT& dit, const TextEncoder* text) {
  std::vector<Tensor> params = dit.parameters();
  if (text)
    for (const Tensor& p : text->parameters()) params.push_back(p);
  return params;
}
}  // namespace

DiTTrainer::DiTTrainer(DiT& model, const LatentDataset& data, const TrainerOptions& options,
                       TextEncoder* text_encoder)
    : model_(model),
      data_(data),
      options_(options),
      text_(text_encoder),
      state_(text_encoder ? "kinema.train.dit+text/1" : "kinema.train.dit/1",
             trained_keys(model, text_encoder), trained_parameters(model, text_encoder), data.size(),
             options, 0x6b696e656d61ULL) {
  check(options.compute == DType::f32 || options.compute == DType::bf16, "DiTTrainer",
        "compute must be f32 or bf16; got ", dtype_name(options.compute));
  check(options.label_weight >= 0 && std::isfinite(options.label_weight), "DiTTrainer",
        "--shape-labels must be a finite weight >= 0; got ", options.label_weight);
  check(options.label_weight == 0 || (options.label_block >= 0 && options.label_block < model.config().num_layers),
        "DiTTrainer", "--label-block must name one of the DiT's blocks, 0 to ", model.config().num_layers - 1,
        "; got ", options.label_block);
  check(options.label_weight == 0 || options.split != TrainLoopOptions::Split::sequence, "DiTTrainer",
        "the shape-label loss reads whole blocks; it cannot run with --sequence-parallel");
  check(std::isfinite(options.model_guidance) && options.model_guidance >= 0 && options.model_guidance < 1,
        "DiTTrainer", "--model-guidance must be in [0, 1) (it trains toward CFG scale 1 / (1 - w)); got ",
        options.model_guidance);
  check(options.model_guidance == 0 || options.split != TrainLoopOptions::Split::sequence, "DiTTrainer",
        "model guidance needs whole predictions; it cannot run with --sequence-parallel");
  if (text_) {
    check(text_->config().dim == model.config().text_dim, "DiTTrainer", "the text encoder's width ",
          text_->config().dim, " differs from the DiT's text_dim ", model.config().text_dim);
    check(!data.empty_caption_ids().empty(), "DiTTrainer",
          "training the text encoder needs a data set with caption token ids");
    for (const Tensor& p : text_->parameters())
      check(p.dtype() == DType::f32 && p.requires_grad(), "DiTTrainer",
            "the text encoder must be trainable (f32 leaves with requires_grad)");
  }
}

StepStats DiTTrainer::step() {
  auto t0 = std::chrono::steady_clock::now();
  const DiTConfig& cfg = model_.config();
  const int64_t cond_channels = cfg.in_dim > cfg.out_dim ? cfg.in_dim - cfg.out_dim : 0;
  const Tensor empty = data_.empty_context();
  const std::vector<int32_t> empty_ids = text_ ? data_.empty_caption_ids() : std::vector<int32_t>{};
  double loss_sum = 0;
  const std::vector<std::vector<int64_t>> batches = next_step_micro_batches();
  for (int64_t a = 0; a < state_.micro_batches(); ++a) {
    const std::vector<int64_t>& indices = batches[size_t(a)];
    if (!state_.owns_micro_batch(a)) {  // another rank's: only keep the RNG in step
      sample_generators(state_.rng(), int64_t(indices.size()));
      continue;
    }
    std::vector<LatentSample> samples;
    for (int64_t index : indices) {
      samples.push_back(data_.get(index));
      if (text_) samples.back().context = Tensor();  // encoded below, with gradients
    }
    FlowBatch b = make_flow_batch(samples, empty, cond_channels, cfg, options_.flow, state_.rng(),
                                  empty_ids);
    DiTForwardOptions fo;
    fo.compute = options_.compute;
    fo.condition = b.condition;
    fo.layout = b.layout;
    fo.context_lens = b.context_lens;
    fo.checkpointing = options_.checkpointing;
    if (options_.split == TrainLoopOptions::Split::sequence) fo.sequence_parallel = options_.comm;
    if (text_) {
      check(b.captions.batch > 0, "DiTTrainer", "the data set gave no caption ids");
      TextEncoderForwardOptions to;
      to.compute = options_.compute;
      if (options_.checkpointing == DiTCheckpointing::blocks)
        to.checkpointing = TextEncoderCheckpointing::blocks;
      b.context = text_->forward(b.captions, to);
      for (int64_t len : b.captions.lengths)
        if (len != b.captions.length) fo.context_lens = b.captions.lengths;
    }
    std::map<std::string, Tensor> trace;
    const bool labels = options_.label_weight > 0;
    if (labels) {
      check(b.token_targets.defined(), "DiTTrainer", "the shape-label loss needs token labels, and the data set "
            "gives none (world data with shape labels)");
      fo.trace = &trace;
    }
    Tensor prediction = model_.forward(b.x_t, b.timesteps, b.context, fo);
    if (options_.model_guidance > 0)
      b.velocity = model_guided_velocity(b.velocity, prediction.detach(), unconditional_prediction(b, fo),
                                         b.dropped, options_.model_guidance);
    Tensor loss = flow_loss(prediction, b);
    if (labels)
      loss = add(loss, scale(token_label_loss(trace.at("blocks." + std::to_string(options_.label_block)),
                                              b.token_targets), options_.label_weight));
    loss_sum += loss.item();
    // Accumulated (and summed over ranks) gradients are the mean over micro-batches, as one
    // large batch would give.
    backward(state_.micro_batches() > 1 ? scale(loss, state_.loss_scale()) : loss);
  }
  StepStats s;
  s.loss = state_.mean_loss(loss_sum);
  state_.finish_step(s);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

// The model's prediction for the batch with every caption empty, without gradients: the empty
// caption is encoded once and shared by every sample.
Tensor DiTTrainer::unconditional_prediction(const FlowBatch& b, DiTForwardOptions fo) const {
  NoGradGuard no_grad;
  fo.trace = nullptr;
  fo.context_lens.clear();
  fo.checkpointing = DiTCheckpointing::none;
  Tensor empty;  // [1, L, D]
  if (text_) {
    const std::vector<int32_t> ids = data_.empty_caption_ids();
    const int64_t L = int64_t(ids.size());
    TextEncoderForwardOptions to;
    to.compute = options_.compute;
    empty = text_->forward(TokenBatch{1, L, ids, std::vector<int32_t>(size_t(L), 1), {L}}, to);
  } else {
    const Tensor e = data_.empty_context();
    empty = reshape(e, {1, e.size(0), e.size(1)});
  }
  const Tensor context = contiguous(expand(empty, {b.x_t.size(0), empty.size(1), empty.size(2)}));
  return model_.forward(b.x_t, b.timesteps, context, fo);
}

std::vector<int64_t> DiTTrainer::next_micro_batch() {
  return detail::take_any(pending_, state_.order(), data_, options_.batch_size);
}

std::vector<std::vector<int64_t>> DiTTrainer::next_step_micro_batches() {
  return detail::take_step(pending_, state_.order(), data_, options_.batch_size, state_.micro_batches());
}

TensorFile DiTTrainer::model_tensors() const {
  return text_ ? join_text_encoder(model_.to_tensors(), text_->to_tensors()) : model_.to_tensors();
}
TensorFile DiTTrainer::ema_tensors() const { return state_.with_ema(model_tensors()); }
std::string DiTTrainer::save(const std::string& dir) const { return state_.save(dir, model_tensors()); }

void DiTTrainer::load(const std::string& dir) {
  state_.load(dir);
  // Rebuild the bucket queues: replay the steps up to the restored position (see train.hpp).
  pending_.clear();
  const int64_t position = state_.data_position();
  DataOrder replay(data_.size(), options_.seed);
  while (replay.position() < position)
    detail::take_step(pending_, replay, data_, options_.batch_size, state_.micro_batches());
  if (replay.position() == position) return;
  // A checkpoint from before steps took one bucket (micro-batches were taken one at a time,
  // each from whichever queue filled first): rebuild the queues that rule left; training goes
  // on from them under the present rule.
  pending_.clear();
  DataOrder old(data_.size(), options_.seed);
  for (int64_t p = 0; p < position; ++p) {
    const int64_t index = old.next();
    std::vector<int64_t>& q = pending_[data_.bucket(index)];
    q.push_back(index);
    if (int64_t(q.size()) == options_.batch_size) q.clear();
  }
}

}  // namespace kinema
