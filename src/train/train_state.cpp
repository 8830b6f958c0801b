// What every trainer shares: AdamW over f32 masters, clipping, the EMA, the step count, the
// data order and RNG, and atomic checkpoints that resume bit-identically.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fcntl.h>
#include <unistd.h>

#include "autograd/adamw_update.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"

namespace fs = std::filesystem;

namespace kinema {

namespace {

// Each key's learning-rate multiplier: the first rule whose key_part it contains, else 1. A rule
// that takes no key is an error (a misspelt name would otherwise train at the plain rate).
std::vector<float> lr_scales_for(const std::vector<std::string>& keys,
                                 const std::vector<TrainLoopOptions::LrScale>& rules) {
  std::vector<float> scales(keys.size(), 1.f);
  std::vector<bool> used(rules.size(), false);
  for (size_t i = 0; i < keys.size(); ++i)
    for (size_t r = 0; r < rules.size(); ++r)
      if (keys[i].find(rules[r].key_part) != std::string::npos) {
        scales[i] = rules[r].scale, used[r] = true;
        break;
      }
  for (size_t r = 0; r < rules.size(); ++r)
    check(used[r], "train", "no trained weight's name contains '", rules[r].key_part,
          "' (learning-rate multiplier ", rules[r].scale, ")");
  return scales;
}

}  // namespace

TrainState::TrainState(std::string format, std::vector<std::string> keys, std::vector<Tensor> params,
                       int64_t dataset_size, const TrainLoopOptions& options, uint64_t rng_stream,
                       std::map<std::string, Tensor> frozen)
    : format_(std::move(format)),
      keys_(std::move(keys)),
      params_(std::move(params)),
      frozen_(std::move(frozen)),
      dataset_size_(dataset_size),
      options_(options),
      comm_(options.comm ? options.comm : options.shard_optimizer ? &world_comm() : nullptr),
      order_(dataset_size, options.seed),
      rng_(options.seed, rng_stream) {
  check(options.batch_size > 0 && options.accumulation > 0, "train",
        "batch_size and accumulation must be positive; got ", options.batch_size, " and ",
        options.accumulation);
  check(keys_.size() == params_.size(), "TrainState", keys_.size(), " keys for ", params_.size(),
        " parameters");
  for (const Tensor& p : params_)
    check(p.dtype() == DType::f32 && p.requires_grad(), "train",
          "the model must hold trainable f32 weights (init_random, or from_tensors with trainable)");
  if (options.shard_optimizer)
    sharded_ = std::make_unique<ShardedAdamW>(params_, options.adamw, *comm_);
  else
    adamw_ = std::make_unique<AdamW>(params_, options.adamw);
  if (!options.lr_scales.empty()) {
    std::vector<float> scales = lr_scales_for(keys_, options.lr_scales);
    if (sharded_) sharded_->set_lr_scales(std::move(scales));
    else adamw_->set_lr_scales(std::move(scales));
  }
  if (options.ema_decay > 0)
    for (const Tensor& p : params_) ema_.push_back(Tensor::from_vector(p.to_vector(), p.shape()));
}

void TrainState::finish_step(StepStats& s) {
  const float max_norm =
      options_.clip_norm > 0 ? options_.clip_norm : std::numeric_limits<float>::infinity();
  s.lr = options_.lr.at(step_);
  if (sharded_) {
    sharded_->set_lr(s.lr);
    s.grad_norm = sharded_->step(max_norm);
    sharded_->zero_grad();
  } else {
    if (comm_) allreduce_gradients(params_, *comm_);
    s.grad_norm = clip_grad_norm(params_, max_norm);
    adamw_->set_lr(s.lr);
    adamw_->step();
    adamw_->zero_grad();
  }
  if (!ema_.empty()) {
    // Warm-up of the decay (as in timm's and diffusers' EMA): early weights are far from the
    // final ones, so a 0.999 average from step 1 would mostly remember the initialisation.
    const float d = std::min(options_.ema_decay, float(step_ + 1) / float(step_ + 10));
    for (size_t i = 0; i < params_.size(); ++i) {
      float* e = ema_[i].data<float>();
      const float* p = params_[i].data<float>();
      ema_update(e, p, params_[i].numel(), d);
    }
  }
  s.step = ++step_;
}

float TrainState::mean_loss(double local_sum) const {
  if (comm_ && data_ranks() > 1) comm_->allreduce_sum(&local_sum, 1);
  return float(local_sum / double(micro_batches()));
}

int64_t TrainState::optimizer_state_bytes() const {
  if (sharded_) return sharded_->state_bytes();
  int64_t n = 0;
  for (const Tensor& p : params_) n += 2 * p.numel() * int64_t(sizeof(float));
  return n;
}

TensorFile TrainState::with_ema(TensorFile model) const {
  if (ema_.empty()) return model;
  for (size_t i = 0; i < keys_.size(); ++i) model.tensors[keys_[i]] = ema_[i];
  model.metadata["ema_decay"] = std::to_string(options_.ema_decay);
  return model;
}

// ---- checkpoints ------------------------------------------------------------------------------
namespace {

// Flushes a file's (or directory's) data to disk, so a crash after the rename that publishes
// a checkpoint cannot leave the published name pointing at unwritten data.
void sync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  check(fd >= 0, "save checkpoint", "cannot open ", path.string(), " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  check(rc == 0, "save checkpoint", "fsync failed for ", path.string());
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    check(f.good(), "save checkpoint", "cannot write ", tmp.string());
    f << text;
    f.flush();
    check(f.good(), "save checkpoint", "cannot write ", tmp.string());
  }
  sync_path(tmp);
  fs::rename(tmp, path);
  sync_path(path.parent_path());
}

// Copies src's values into dst (same shape, f32, contiguous) in place: the optimizer keeps
// references to the model's parameter tensors.
void copy_into(const Tensor& dst, const Tensor& src, const std::string& key, const std::string& file) {
  check(src.shape() == dst.shape(), "load checkpoint", file, ": ", key, " is ",
        shape_str(src.shape()), "; the model expects ", shape_str(dst.shape()));
  std::vector<float> v = src.to_vector();
  std::memcpy(dst.data<float>(), v.data(), v.size() * sizeof(float));
}

// A frozen tensor must come back from a checkpoint exactly as the model holds it.
void check_frozen(const std::map<std::string, Tensor>& frozen, const TensorFile& f, const std::string& file) {
  for (const auto& [key, t] : frozen) {
    auto it = f.tensors.find(key);
    check(it != f.tensors.end(), "load checkpoint", file, " lacks the frozen tensor ", key);
    check(it->second.shape() == t.shape() && it->second.to_vector() == t.to_vector(), "load checkpoint",
          file, ": the frozen tensor ", key, " differs from the model's; resume with the weights the run "
          "started from (the trained part learns on what the frozen part gives it)");
  }
}

std::string meta(const TensorFile& f, const std::string& key, const std::string& file) {
  auto it = f.metadata.find(key);
  check(it != f.metadata.end(), "load checkpoint", file, " lacks metadata \"", key, "\"");
  return it->second;
}

}  // namespace

std::string TrainState::save(const std::string& dir, const TensorFile& model) const {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step_));
  fs::path root(dir), final_dir = root / name, tmp = root / (std::string(".tmp-") + name);
  if (rank() != 0) {  // rank 0 writes; the others only lend their optimizer shards
    if (sharded_) sharded_->save("");
    comm_->barrier();
    return final_dir.string();
  }
  fs::create_directories(root);
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  save_tensors((tmp / "model.safetensors").string(), model);
  if (!ema_.empty()) save_tensors((tmp / "ema.safetensors").string(), with_ema(model));
  if (sharded_)
    sharded_->save((tmp / "optimizer.safetensors").string());
  else
    adamw_->save((tmp / "optimizer.safetensors").string());
  TensorFile state;
  state.metadata = {{"format", format_},
                    {"step", std::to_string(step_)},
                    {"data_position", std::to_string(order_.position())},
                    {"rng_state", std::to_string(rng_.state())},
                    {"rng_inc", std::to_string(rng_.inc())},
                    {"seed", std::to_string(options_.seed)},
                    {"batch_size", std::to_string(options_.batch_size)},
                    {"accumulation", std::to_string(options_.accumulation)},
                    {"dataset_size", std::to_string(dataset_size_)},
                    {"has_ema", ema_.empty() ? "0" : "1"}};
  save_tensors((tmp / "trainer.safetensors").string(), state);
  for (const auto& e : fs::directory_iterator(tmp)) sync_path(e.path());
  sync_path(tmp);
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);  // the checkpoint appears whole or not at all
  write_text_atomically(root / "latest", std::string(name) + "\n");
  if (comm_) comm_->barrier();
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

int64_t prune_checkpoints(const std::string& dir, int64_t keep) {
  check(keep >= 1, "prune_checkpoints", "keep must be at least 1; got ", keep);
  const std::string latest = find_checkpoint(dir);
  std::vector<fs::path> steps;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const bool numbered = name.size() == 13 && name.rfind("step-", 0) == 0 &&
                          std::all_of(name.begin() + 5, name.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (numbered && e.is_directory()) steps.push_back(e.path());
  }
  std::sort(steps.begin(), steps.end());  // zero-padded: name order is step order
  int64_t removed = 0;
  for (size_t i = 0; i + size_t(keep) < steps.size(); ++i) {
    if (!latest.empty() && fs::equivalent(steps[i], latest)) continue;
    fs::remove_all(steps[i]);
    ++removed;
  }
  return removed;
}

void TrainState::load(const std::string& dir) {
  std::string ck = find_checkpoint(dir);
  check(!ck.empty(), "load checkpoint", "no checkpoint in ", dir, " (expected ", dir,
        "/latest or ", dir, "/trainer.safetensors)");
  fs::path p(ck);
  const std::string state_path = (p / "trainer.safetensors").string();
  TensorFile state = load_tensors(state_path);
  check(meta(state, "format", state_path) == format_, "load checkpoint", state_path, " has format '",
        meta(state, "format", state_path), "'; expected '", format_, "'");
  check(std::stoll(meta(state, "dataset_size", state_path)) == dataset_size_, "load checkpoint",
        state_path, " was trained on ", meta(state, "dataset_size", state_path),
        " samples; this dataset has ", dataset_size_, " (the data position would not match)");
  for (const char* which : {"model", "ema"}) {
    bool is_ema = !std::strcmp(which, "ema");
    if (is_ema && (ema_.empty() || meta(state, "has_ema", state_path) != "1")) continue;
    const std::string path = (p / (std::string(which) + ".safetensors")).string();
    TensorFile f = load_tensors(path);
    check(f.tensors.size() == keys_.size() + frozen_.size(), "load checkpoint", path, " holds ",
          f.tensors.size(), " tensors; the model has ", keys_.size(), " trained and ", frozen_.size(), " frozen");
    check_frozen(frozen_, f, path);
    for (size_t i = 0; i < keys_.size(); ++i) {
      auto it = f.tensors.find(keys_[i]);
      check(it != f.tensors.end(), "load checkpoint", path, " lacks ", keys_[i]);
      copy_into(is_ema ? ema_[i] : params_[i], it->second, keys_[i], path);
    }
  }
  if (sharded_)
    sharded_->load((p / "optimizer.safetensors").string());
  else
    adamw_->load((p / "optimizer.safetensors").string());
  step_ = std::stoll(meta(state, "step", state_path));
  order_.seek(std::stoll(meta(state, "data_position", state_path)));
  rng_.restore(std::stoull(meta(state, "rng_state", state_path)),
               std::stoull(meta(state, "rng_inc", state_path)));
}

}  // namespace kinema
