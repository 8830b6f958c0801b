// Pipeline::load_wan: Wan2.1's and Wan2.2's released directory layouts on kinema's own modules
// (the DiT, VAE and text encoder that match Wan's reference code,
// tests/models/test_wan_official_parity.cpp and test_wan22_official_parity.cpp).
#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "generate/internal.hpp"
#include "kinema/error.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/weights.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// The DiT's file: the sharded index, the single safetensors, or one .gguf.
std::string dit_file(const fs::path& dir) {
  for (const char* name : {"diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.safetensors"})
    if (fs::exists(dir / name)) return (dir / name).string();
  std::vector<std::string> ggufs;
  for (const auto& e : fs::directory_iterator(dir))
    if (ends_with(e.path().string(), ".gguf")) ggufs.push_back(e.path().string());
  check(ggufs.size() == 1, "wan", dir.string(), ": no DiT found; expected diffusion_pytorch_model.safetensors ",
        "(or its .index.json with shards, or one .gguf)", ggufs.size() > 1 ? "; several .gguf files: keep one" : "");
  return ggufs[0];
}

fs::path need(const fs::path& dir, const std::string& name, const char* what) {
  const fs::path p = dir / name;
  check(fs::exists(p), "wan", dir.string(), " has no ", name, " (", what, ")");
  return p;
}

// ComfyUI's single-file checkpoints prefix the DiT's keys.
TensorFile strip_prefixes(TensorFile f) {
  TensorFile out;
  out.metadata = std::move(f.metadata);
  for (auto& [name, t] : f.tensors) {
    std::string key = name;
    for (const char* prefix : {"model.diffusion_model.", "diffusion_model.", "model."})
      if (key.rfind(prefix, 0) == 0) {
        key = key.substr(std::string(prefix).size());
        break;
      }
    check(out.tensors.emplace(key, std::move(t)).second, "wan", "the DiT has \"", key, "\" twice (with and without a prefix)");
  }
  return out;
}

// One DiT directory: its config.json and weights (Wan2.2 A14B has two, one per expert).
struct WanDiT {
  nlohmann::json config;
  fs::path config_path;
  std::string file;
  TensorFile tensors;
};

WanDiT read_wan_dit(const fs::path& dir) {
  WanDiT d;
  d.config_path = need(dir, "config.json", "the DiT's configuration");
  try {
    d.config = nlohmann::json::parse(std::ifstream(d.config_path));
  } catch (const std::exception& e) {
    fail("wan", d.config_path.string(), " is not valid JSON: ", e.what());
  }
  d.file = dit_file(dir);
  d.tensors = strip_prefixes(load_weights(d.file));
  if (d.config.contains("num_heads")) d.tensors.metadata["num_heads"] = std::to_string(d.config["num_heads"].get<int64_t>());
  return d;
}

// Wan's VAE file: Wan2.1_VAE.pth (T2V, I2V, FLF2V, Wan2.2 A14B) or Wan2.2_VAE.pth (TI2V-5B),
// with Wan's published latent statistics (code, not file) added before the one load.
VAE load_wan_vae(const fs::path& dir) {
  const bool v22 = fs::exists(dir / "Wan2.2_VAE.pth");
  check(v22 || fs::exists(dir / "Wan2.1_VAE.pth"), "wan", dir.string(),
        " has no Wan2.1_VAE.pth or Wan2.2_VAE.pth (the VAE)");
  TensorFile file = load_weights((dir / (v22 ? "Wan2.2_VAE.pth" : "Wan2.1_VAE.pth")).string());
  const VaeConfig c = infer_vae_config(file.tensors, file.metadata);
  const VaeConfig stats = c.layout == VaeLayout::wan22 ? wan22_vae_config() : wan21_vae_config();
  if (!file.metadata.count("latents_mean") && c.z_dim == stats.z_dim) {
    std::string mean, std_;
    for (size_t i = 0; i < stats.latents_mean.size(); ++i)
      mean += (i ? "," : "") + std::to_string(stats.latents_mean[i]), std_ += (i ? "," : "") + std::to_string(stats.latents_std[i]);
    file.metadata["latents_mean"] = mean, file.metadata["latents_std"] = std_;
  }
  return VAE::from_tensors(file);
}

// config.json's model_type against what the DiT's weights hold.
void check_model_type(const std::string& dir, const std::string& type, const DiTConfig& c, bool experts) {
  check(type == "t2v" || type == "i2v" || type == "flf2v" || type == "ti2v", "wan", dir, " is a Wan ", type,
        " model; kinema runs Wan t2v, i2v, flf2v and ti2v directories (docs/wan.md)");
  check(!experts || type == "t2v" || type == "i2v", "wan", dir, ": Wan2.2's two experts come as t2v or i2v; got ", type);
  check(type == "i2v" || type == "flf2v" || c.image_dim == 0, "wan", "config.json says ", type,
        " but the DiT has image cross-attention (img_emb)");
  check(type != "flf2v" || c.image_tokens > 0, "wan", "config.json says flf2v but the DiT has no image cross-attention ",
        "for two images (img_emb.emb_pos)");
  check(type != "i2v" || c.in_dim > c.out_dim, "wan", "config.json says i2v but the DiT's patch_embedding takes ",
        c.in_dim, " channels, no more than the ", c.out_dim, " it predicts (no image condition)");
}

// Wan's defaults per model (wan/configs, generate.py).
void wan_defaults(ModelManifest& m, const std::string& type, bool experts) {
  m.sizes = {{832, 480}, {480, 832}, {1280, 720}, {720, 1280}};
  m.fps = 16, m.frames = 81, m.steps = 50, m.cfg = 5.f, m.shift = 5.f, m.sampler = "unipc";
  m.keep_grey_latents = type == "i2v" || type == "flf2v";
  if (experts && type == "t2v")  // wan_t2v_A14B.py
    m.boundary = m.guidance_from = 0.875f, m.shift = 12.f, m.steps = 40, m.cfg = 3.f, m.cfg_high = 4.f;
  if (experts && type == "i2v")  // wan_i2v_A14B.py: guide (3.5, 3.5)
    m.boundary = m.guidance_from = 0.9f, m.shift = 5.f, m.steps = 40, m.cfg = 3.5f, m.cfg_high = 3.5f;
  if (experts) m.sizes = {{1280, 720}, {720, 1280}, {832, 480}, {480, 832}};
  if (type == "ti2v") {  // wan_ti2v_5B.py
    m.sizes = {{1280, 704}, {704, 1280}};
    m.fps = 24, m.frames = 121, m.replace_first_frame = true;
  }
}

}  // namespace

Pipeline Pipeline::load_wan(const std::string& dir_in, const PipelineLoadOptions& options) {
  const fs::path dir(dir_in);
  // Wan2.2 A14B: high_noise_model/ and low_noise_model/, each a DiT directory.
  const bool experts = fs::is_directory(dir / "high_noise_model") && fs::is_directory(dir / "low_noise_model");
  WanDiT low = read_wan_dit(experts ? dir / "low_noise_model" : dir);
  const std::string type = low.config.value("model_type", "t2v");
  DiT dit = DiT::from_tensors(detail::dit_weights(std::move(low.tensors), options));
  check_model_type(dir_in, type, dit.config(), experts);
  VAE vae = load_wan_vae(dir);
  TextEncoder text = TextEncoder::from_tensors(
      load_weights(need(dir, "models_t5_umt5-xxl-enc-bf16.pth", "the umT5-XXL text encoder").string()));
  // umT5's tokenizer: sentencepiece's spiece.model, or the same model as Hugging Face's tokenizer.json.
  const bool spiece = fs::exists(dir / "google/umt5-xxl/spiece.model") || !fs::exists(dir / "google/umt5-xxl/tokenizer.json");
  Tokenizer tok = Tokenizer::load(need(dir, spiece ? "google/umt5-xxl/spiece.model" : "google/umt5-xxl/tokenizer.json",
                                       "umT5's tokenizer: spiece.model or tokenizer.json").string());
  check(dit.config().text_dim == text.config().dim, "wan", "the DiT reads text of width ", dit.config().text_dim,
        " but the text encoder writes ", text.config().dim);
  check(dit.config().out_dim == vae.config().z_dim, "wan", "the DiT predicts ", dit.config().out_dim,
        " channels but the VAE's latent has ", vae.config().z_dim,
        type == "ti2v" ? " (Wan2.2 TI2V needs Wan2.2_VAE.pth)" : "");

  ModelManifest m;
  m.name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
  wan_defaults(m, type, experts);
  m.max_text_len = low.config.value("text_len", int64_t(512));
  m.pad_text = true, m.world_prompts = false, m.wan_schedule = true;
  m.dit.path = low.file;
  m.dit.sha256 = sha256_file(low.config_path.string());  // provenance names the model by its config (hashing 28 GB
                                                         // of weights would take minutes)
  Pipeline p(dir_in, std::move(m), std::move(tok), std::move(text), std::move(vae), std::move(dit));
  if (experts) {
    WanDiT high = read_wan_dit(dir / "high_noise_model");
    p.high_noise_ = std::make_shared<const DiT>(DiT::from_tensors(detail::dit_weights(std::move(high.tensors), options)));
    check(p.high_noise_->config().dim == p.dit_.config().dim && p.high_noise_->config().in_dim == p.dit_.config().in_dim,
          "wan", "the two experts differ in shape (dim ", p.high_noise_->config().dim, " and ", p.dit_.config().dim,
          ", in_dim ", p.high_noise_->config().in_dim, " and ", p.dit_.config().in_dim, ")");
  }
  if (p.dit_.config().image_dim > 0)  // Wan2.1 I2V/FLF2V; Wan2.2's I2V takes no CLIP
    p.clip_ = std::make_shared<const ClipVision>(ClipVision::from_tensors(load_weights(
        need(dir, "models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth", "the CLIP image encoder").string())));
  return p;
}

}  // namespace kinema
