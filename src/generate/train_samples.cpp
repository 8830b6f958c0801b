// Sample videos of a DiT training run (kinema/train_samples.hpp): fixed training-distribution
// prompts, a pipeline over a copy of the run's current weights, and the files a step writes.
#include "kinema/train_samples.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/train.hpp"
#include "kinema/world.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

world::SampleOptions world_size(const TrainSampleOptions& o) {
  return world::SampleOptions{o.width, o.height, o.fps, o.frames};
}

// What `kinema generate` makes of prompt i: its expansion at the prompt's sample seed.
world::Expansion expansion(const TrainSampleOptions& o, size_t i) {
  return world::expand(o.prompts[i], o.seed + i, world_size(o));
}

std::string trimmed(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// A copy that shares no storage (and no autograd state) with the trainer's tensors.
TensorFile copied(const TensorFile& f) {
  TensorFile out;
  out.metadata = f.metadata;
  for (const auto& [key, t] : f.tensors) {
    const bool plain = t.dtype() == DType::f32 || t.dtype() == DType::bf16;
    out.tensors[key] = plain ? Tensor::from_vector(t.to_vector(), t.shape(), t.dtype()) : t.detach();
  }
  return out;
}

ModelManifest sampling_manifest(const TrainSampleOptions& o) {
  ModelManifest m;
  m.name = "training-samples";
  m.sizes = {{o.width, o.height}};
  m.fps = o.fps, m.frames = o.frames, m.steps = o.steps;
  m.cfg = o.cfg, m.shift = 0.f, m.base_tokens = o.base_tokens;
  m.sampler = o.sampler, m.max_text_len = o.max_text_len;
  return m;
}

}  // namespace

std::vector<std::string> default_sample_prompts(const world::WorldVideoOptions& data,
                                                const TrainSampleOptions& options, int count) {
  TrainSampleOptions o = options;
  std::set<std::string> seen;
  for (int64_t index = 0; int(o.prompts.size()) < count && index < 1000; ++index) {
    const world::Scene scene = world::pick_world_clip(data, index).scene;
    o.prompts.push_back(world::short_prompt(scene, data.seed + uint64_t(index)));
    const world::Expansion e = expansion(o, o.prompts.size() - 1);
    if (!e.understood || world::is_held_out(e.scene) || !seen.insert(o.prompts.back()).second)
      o.prompts.pop_back();
  }
  check(int(o.prompts.size()) == count, "train samples", "found only ", o.prompts.size(), " of ", count,
        " usable prompts in the first 1000 training scenes; give prompts with --sample-prompts FILE");
  return o.prompts;
}

std::vector<std::string> read_sample_prompts(const std::string& path) {
  std::ifstream in(path);
  check(in.good(), "train samples", "cannot read the prompt file ", path,
        "; give a text file with one prompt per line");
  std::vector<std::string> prompts;
  for (std::string line; std::getline(in, line);)
    if (const std::string p = trimmed(line); !p.empty()) prompts.push_back(p);
  check(!prompts.empty(), "train samples", path, " holds no prompt; write one prompt per line");
  return prompts;
}

void check_sample_prompts(const TrainSampleOptions& options) {
  check(!options.prompts.empty(), "train samples", "no prompt to sample");
  for (size_t i = 0; i < options.prompts.size(); ++i) {
    const world::Expansion e = expansion(options, i);
    check(!e.understood || !world::is_held_out(e.scene), "train samples", "prompt ", i + 1, " ('",
          options.prompts[i], "') describes a held-out combination (docs/world.md), which the scorecard keeps ",
          "unseen; sample from training-distribution prompts instead");
  }
}

Pipeline sampling_pipeline(const TensorFile& weights, const TextEncoder* frozen_encoder, const VAE& vae,
                           const Tokenizer& tokenizer, const TrainSampleOptions& options) {
  auto [dit, text] = split_text_encoder(weights);
  check(!text.tensors.empty() || frozen_encoder != nullptr, "train samples",
        "the weights carry no text encoder and none was given");
  TextEncoder encoder = text.tensors.empty() ? TextEncoder::from_tensors(copied(frozen_encoder->to_tensors()))
                                             : TextEncoder::from_tensors(copied(text));
  return Pipeline::from_models(sampling_manifest(options), tokenizer, std::move(encoder), vae,
                               DiT::from_tensors(copied(dit)));
}

std::vector<std::vector<Frame>> sample_clips(const Pipeline& pipe, const TrainSampleOptions& options) {
  std::vector<std::vector<Frame>> clips;
  for (size_t i = 0; i < options.prompts.size(); ++i) {
    GenerateRequest r;
    r.prompt = options.prompts[i];
    r.seed = options.seed + i;
    r.threads = current_context().threads();  // the training run's, not every core
    clips.push_back(pipe.generate(r).frames);
  }
  return clips;
}

std::string sample_step_dir(const std::string& dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return (fs::path(dir) / name).string();
}

namespace {

// "07", "12", "123": a clip's number in its file name.
std::string two_digits(size_t i) { return (i < 10 ? "0" : "") + std::to_string(i); }

void write_clip(const std::string& path, const std::vector<Frame>& clip, int fps) {
  VideoWriterOptions wo;
  wo.width = clip.at(0).width, wo.height = clip.at(0).height, wo.fps = fps;
  VideoWriter writer(path, wo);
  for (const Frame& f : clip) writer.write(f);
  writer.close();
}

void write_prompt_list(const std::string& path, const std::vector<std::string>& prompts) {
  std::ofstream out(path, std::ios::trunc);
  check(out.good(), "train samples", "cannot write ", path);
  for (size_t i = 0; i < prompts.size(); ++i) out << two_digits(i) << '\t' << prompts[i] << '\n';
}

}  // namespace

std::string write_train_samples(const std::string& dir, int64_t step,
                                const std::vector<std::vector<Frame>>& clips, const TrainSampleOptions& options) {
  check(!clips.empty() && clips.size() == options.prompts.size(), "train samples", "got ", clips.size(),
        " clips for ", options.prompts.size(), " prompts");
  const std::string step_dir = sample_step_dir(dir, step);
  fs::create_directories(step_dir);
  std::vector<Frame> rows;
  for (size_t i = 0; i < clips.size(); ++i) {
    write_clip((fs::path(step_dir) / (two_digits(i) + ".mp4")).string(), clips[i], options.fps);
    rows.push_back(contact_sheet(clips[i]));
  }
  write_image((fs::path(step_dir) / "sheet.png").string(), stack_rows(rows));
  write_prompt_list((fs::path(dir) / "prompts.txt").string(), options.prompts);
  return step_dir;
}

}  // namespace kinema
