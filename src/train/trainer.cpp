// The DiT trainer: flow-matching step with accumulation, clipping, AdamW, EMA; checkpoints.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fcntl.h>
#include <unistd.h>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"

namespace fs = std::filesystem;

namespace kinema {

float LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) return peak * float(step + 1) / float(warmup_steps);
  int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  double progress = std::min(1.0, double(step - warmup_steps) / double(span));
  double cosine = 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  return float(peak * (min_ratio + (1.0 - min_ratio) * cosine));
}

DiTTrainer::DiTTrainer(DiT& model, const LatentDataset& data, const TrainerOptions& options)
    : model_(model),
      data_(data),
      options_(options),
      params_(model.parameters()),
      order_(data.size(), options.seed),
      rng_(options.seed, 0x6b696e656d61ULL) {
  check(options.batch_size > 0 && options.accumulation > 0, "DiTTrainer",
        "batch_size and accumulation must be positive; got ", options.batch_size, " and ",
        options.accumulation);
  check(options.compute == DType::f32 || options.compute == DType::bf16, "DiTTrainer",
        "compute must be f32 or bf16; got ", dtype_name(options.compute));
  for (const Tensor& p : params_)
    check(p.dtype() == DType::f32 && p.requires_grad(), "DiTTrainer",
          "the model must hold trainable f32 weights (DiT::init_random or from_tensors with trainable)");
  adamw_ = std::make_unique<AdamW>(params_, options.adamw);
  if (options.ema_decay > 0)
    for (const Tensor& p : params_) ema_.push_back(Tensor::from_vector(p.to_vector(), p.shape()));
}

StepStats DiTTrainer::step() {
  auto t0 = std::chrono::steady_clock::now();
  const DiTConfig& cfg = model_.config();
  const int64_t cond_channels = cfg.in_dim > cfg.out_dim ? cfg.in_dim - cfg.out_dim : 0;
  const Tensor empty = data_.empty_context();
  double loss_sum = 0;
  for (int64_t a = 0; a < options_.accumulation; ++a) {
    std::vector<LatentSample> samples;
    for (int64_t i = 0; i < options_.batch_size; ++i) samples.push_back(data_.get(order_.next()));
    FlowBatch b = make_flow_batch(samples, empty, cond_channels, cfg, options_.flow, rng_);
    DiTForwardOptions fo;
    fo.compute = options_.compute;
    fo.condition = b.condition;
    fo.context_lens = b.context_lens;
    fo.checkpointing = options_.checkpointing;
    Tensor loss = mse_loss(model_.forward(b.x_t, b.timesteps, b.context, fo), b.velocity);
    loss_sum += loss.item();
    // Accumulated gradients are the mean over micro-batches, as one large batch would give.
    backward(options_.accumulation > 1 ? scale(loss, 1.f / float(options_.accumulation)) : loss);
  }
  StepStats s;
  s.loss = float(loss_sum / double(options_.accumulation));
  s.grad_norm = clip_grad_norm(params_, options_.clip_norm > 0 ? options_.clip_norm
                                                               : std::numeric_limits<float>::infinity());
  s.lr = options_.lr.at(step_);
  adamw_->set_lr(s.lr);
  adamw_->step();
  adamw_->zero_grad();
  if (!ema_.empty()) {
    // Warm-up of the decay (as in timm's and diffusers' EMA): early weights are far from the
    // final ones, so a 0.999 average from step 1 would mostly remember the initialisation.
    const float d = std::min(options_.ema_decay, float(step_ + 1) / float(step_ + 10));
    for (size_t i = 0; i < params_.size(); ++i) {
      float* e = ema_[i].data<float>();
      const float* p = params_[i].data<float>();
      for (int64_t j = 0, n = params_[i].numel(); j < n; ++j) e[j] = d * e[j] + (1.f - d) * p[j];
    }
  }
  s.step = ++step_;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

TensorFile DiTTrainer::ema_tensors() const {
  TensorFile f = model_.to_tensors();
  if (ema_.empty()) return f;
  auto shapes = dit_parameter_shapes(model_.config());
  for (size_t i = 0; i < shapes.size(); ++i) f.tensors[shapes[i].first] = ema_[i];
  f.metadata["ema_decay"] = std::to_string(options_.ema_decay);
  return f;
}

// ---- checkpoints ------------------------------------------------------------------------------
namespace {

constexpr const char* kFormat = "kinema.train.dit/1";

// Flushes a file's (or directory's) data to disk, so a crash after the rename that publishes
// a checkpoint cannot leave the published name pointing at unwritten data.
void sync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  check(fd >= 0, "DiTTrainer::save", "cannot open ", path.string(), " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  check(rc == 0, "DiTTrainer::save", "fsync failed for ", path.string());
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    check(f.good(), "DiTTrainer::save", "cannot write ", tmp.string());
    f << text;
    f.flush();
    check(f.good(), "DiTTrainer::save", "cannot write ", tmp.string());
  }
  sync_path(tmp);
  fs::rename(tmp, path);
  sync_path(path.parent_path());
}

// Copies src's values into dst (same shape, f32, contiguous) in place: the optimizer keeps
// references to the model's parameter tensors.
void copy_into(const Tensor& dst, const Tensor& src, const std::string& key, const std::string& file) {
  check(src.shape() == dst.shape(), "DiTTrainer::load", file, ": ", key, " is ",
        shape_str(src.shape()), "; the model expects ", shape_str(dst.shape()));
  std::vector<float> v = src.to_vector();
  std::memcpy(dst.data<float>(), v.data(), v.size() * sizeof(float));
}

std::string meta(const TensorFile& f, const std::string& key, const std::string& file) {
  auto it = f.metadata.find(key);
  check(it != f.metadata.end(), "DiTTrainer::load", file, " lacks metadata \"", key, "\"");
  return it->second;
}

}  // namespace

std::string DiTTrainer::save(const std::string& dir) const {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step_));
  fs::path root(dir), final_dir = root / name, tmp = root / (std::string(".tmp-") + name);
  fs::create_directories(root);
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  save_tensors((tmp / "model.safetensors").string(), model_.to_tensors());
  if (!ema_.empty()) save_tensors((tmp / "ema.safetensors").string(), ema_tensors());
  adamw_->save((tmp / "optimizer.safetensors").string());
  TensorFile state;
  state.metadata = {{"format", kFormat},
                    {"step", std::to_string(step_)},
                    {"data_position", std::to_string(order_.position())},
                    {"rng_state", std::to_string(rng_.state())},
                    {"rng_inc", std::to_string(rng_.inc())},
                    {"seed", std::to_string(options_.seed)},
                    {"batch_size", std::to_string(options_.batch_size)},
                    {"accumulation", std::to_string(options_.accumulation)},
                    {"dataset_size", std::to_string(data_.size())},
                    {"has_ema", ema_.empty() ? "0" : "1"}};
  save_tensors((tmp / "trainer.safetensors").string(), state);
  for (const auto& e : fs::directory_iterator(tmp)) sync_path(e.path());
  sync_path(tmp);
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);  // the checkpoint appears whole or not at all
  write_text_atomically(root / "latest", std::string(name) + "\n");
  return final_dir.string();
}

std::string find_checkpoint(const std::string& dir) {
  fs::path root(dir);
  if (fs::exists(root / "trainer.safetensors")) return root.string();
  std::ifstream f(root / "latest");
  if (!f.good()) return "";
  std::string name;
  std::getline(f, name);
  check(!name.empty() && fs::exists(root / name / "trainer.safetensors"), "find_checkpoint",
        (root / "latest").string(), " names '", name, "', which is not a complete checkpoint");
  return (root / name).string();
}

void DiTTrainer::load(const std::string& dir) {
  std::string ck = find_checkpoint(dir);
  check(!ck.empty(), "DiTTrainer::load", "no checkpoint in ", dir, " (expected ", dir,
        "/latest or ", dir, "/trainer.safetensors)");
  fs::path p(ck);
  const std::string state_path = (p / "trainer.safetensors").string();
  TensorFile state = load_tensors(state_path);
  check(meta(state, "format", state_path) == kFormat, "DiTTrainer::load", state_path, " has format '",
        meta(state, "format", state_path), "'; expected '", kFormat, "'");
  check(std::stoll(meta(state, "dataset_size", state_path)) == data_.size(), "DiTTrainer::load",
        state_path, " was trained on ", meta(state, "dataset_size", state_path),
        " samples; this dataset has ", data_.size(), " (the data position would not match)");
  auto shapes = dit_parameter_shapes(model_.config());
  for (const char* which : {"model", "ema"}) {
    bool is_ema = !std::strcmp(which, "ema");
    if (is_ema && (ema_.empty() || meta(state, "has_ema", state_path) != "1")) continue;
    const std::string path = (p / (std::string(which) + ".safetensors")).string();
    TensorFile f = load_tensors(path);
    check(f.tensors.size() == shapes.size(), "DiTTrainer::load", path, " holds ", f.tensors.size(),
          " tensors; the model has ", shapes.size());
    for (size_t i = 0; i < shapes.size(); ++i) {
      auto it = f.tensors.find(shapes[i].first);
      check(it != f.tensors.end(), "DiTTrainer::load", path, " lacks ", shapes[i].first);
      copy_into(is_ema ? ema_[i] : params_[i], it->second, shapes[i].first, path);
    }
  }
  adamw_->load((p / "optimizer.safetensors").string());
  step_ = std::stoll(meta(state, "step", state_path));
  order_.seek(std::stoll(meta(state, "data_position", state_path)));
  rng_.restore(std::stoull(meta(state, "rng_state", state_path)),
               std::stoull(meta(state, "rng_inc", state_path)));
}

}  // namespace kinema
