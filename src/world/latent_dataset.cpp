// World scenes -> frozen VAE -> normalised latents, captions -> frozen text encoder; the
// on-disk latent cache (one safetensors file per index, keyed by the VAE's encoder weights + data options).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/vae_train.hpp"
#include "kinema/world_latents.hpp"
#include "world/internal.hpp"

namespace fs = std::filesystem;

namespace kinema::world {
namespace {

// 2: the image share left the key (an index's latent depends on whether it is an image, which
// its file name says, not on the share), so a new mix reuses every entry it draws alike.
constexpr const char* kCacheFormat = "kinema.world_latents/2";

// FNV-1a, 64 bit.
struct Hasher {
  uint64_t h = 0xcbf29ce484222325ull;
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  }
  void text(const std::string& s) {
    uint64_t n = s.size();
    bytes(&n, sizeof n);
    bytes(s.data(), s.size());
  }
  template <class T>
  void value(T v) { bytes(&v, sizeof v); }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

std::string checksum(const std::vector<float>& v) {
  Hasher h;
  h.bytes(v.data(), v.size() * sizeof(float));
  return h.hex();
}

}  // namespace

WorldVideoOptions WorldLatentOptions::video() const {
  WorldVideoOptions v;
  v.count = count;
  v.frames = frames;
  v.crop = 0;
  v.image_fraction = image_fraction;
  v.focus_fraction = focus_fraction;
  v.seed = seed;
  v.sizes = sizes;
  v.fps = fps;
  v.extra_frames = 0;
  return v;
}

std::string vae_encoder_hash(const VAE& vae) {
  Hasher h;
  const VaeConfig& c = vae.config();
  h.value(c.dim), h.value(c.z_dim), h.value(c.num_res_blocks);
  for (int64_t m : c.dim_mult) h.value(m);
  for (bool t : c.temporal_downsample) h.value(uint8_t(t));
  for (const auto& [name, w] : vae.weights()) {
    if (is_vae_decoder_key(name)) continue;  // a decoder fine-tuned on the frozen encoder keeps the cache
    h.text(name);
    h.text(std::string(dtype_name(w.dtype())));
    for (int64_t d : w.shape()) h.value(d);
    const std::vector<float> v = w.to_vector();  // exact for f32/bf16/f16 weights
    h.bytes(v.data(), v.size() * sizeof(float));
  }
  return h.hex();
}

WorldLatentDataset::WorldLatentDataset(const VAE& vae, const TextEncoder& encoder,
                                       const Tokenizer& tokenizer, const WorldLatentOptions& options)
    : vae_(vae), encoder_(encoder), tokenizer_(tokenizer), options_(options) {
  const auto& o = options_;
  const char* who = "WorldLatentDataset";
  check(o.count > 0, who, "count must be positive; got ", o.count);
  check(o.max_text_len >= 1, who, "max_text_len must be >= 1; got ", o.max_text_len);
  check(o.object_weight >= 0, who, "object_weight must be >= 0; got ", o.object_weight);
  check(o.image_fraction >= 0 && o.image_fraction <= 1, who, "image_fraction must be in [0, 1]; got ",
        o.image_fraction);
  const int64_t s = vae.config().spatial_compression(), tc = vae.config().temporal_compression();
  check(o.frames >= 1 && (o.frames - 1) % tc == 0, who, "frames must be 1 + k x ", tc,
        " (the VAE's temporal compression); got ", o.frames);
  for (const auto& [w, h] : o.sizes)
    check(w > 0 && h > 0 && w % s == 0 && h % s == 0, who, "size ", w, "x", h,
          " is not a multiple of the VAE's spatial compression ", s);
  check(encoder.config().vocab_size >= tokenizer.vocab_size(), who, "the text encoder's vocabulary (",
        encoder.config().vocab_size, ") is smaller than the tokenizer's (", tokenizer.vocab_size(), ")");
  pick_world_clip(o.video(), 0);  // validates the clip options

  const std::string vae_hash = vae_encoder_hash(vae);
  Hasher h;
  h.text(kCacheFormat);
  h.text(vae_hash);
  h.value(int64_t(o.frames)), h.value(o.seed), h.value(int64_t(o.fps));
  for (const auto& [w, hh] : o.sizes) h.value(int64_t(w)), h.value(int64_t(hh));
  h.value(int64_t(o.chunking));
  key_ = h.hex();

  int64_t len = 0;
  {
    NoGradGuard no_grad;
    std::vector<int32_t> ids = tokenizer_.encode("");
    TokenBatch b{1, int64_t(ids.size()), ids, std::vector<int32_t>(ids.size(), 1), {int64_t(ids.size())}};
    Tensor out = encoder_.forward(b);
    len = int64_t(ids.size());
    empty_ = Tensor::from_vector(out.to_vector(), {len, encoder_.config().dim});
  }

  if (!o.cache_dir.empty()) {
    const fs::path dir = fs::path(o.cache_dir) / key_;
    std::error_code ec;
    fs::create_directories(dir, ec);
    check(!ec && fs::is_directory(dir), who, "cannot create the latent cache directory ", dir.string(),
          ec ? ": " + ec.message() : std::string());
    const fs::path info = dir / "options.txt";
    if (!fs::exists(info)) {
      std::ostringstream ss;
      ss << "format " << kCacheFormat << "\nvae " << vae_hash << "\nframes " << o.frames
         << "\nseed " << o.seed << "\nfps " << o.fps
         << "\nchunking " << (o.chunking == VaeChunking::whole ? "whole" : "causal") << "\nsizes";
      for (const auto& [w, hh] : o.sizes) ss << " " << w << "x" << hh;
      ss << "\n";
      const fs::path tmp = dir / ("options.txt.tmp." + std::to_string(::getpid()));
      std::ofstream(tmp) << ss.str();
      fs::rename(tmp, info, ec);
    }
  }
}

WorldClipPick WorldLatentDataset::pick(int64_t index) const {
  check(index >= 0 && index < options_.count, "WorldLatentDataset", "index ", index,
        " outside [0, ", options_.count, ")");
  return pick_world_clip(options_.video(), index);
}

std::string WorldLatentDataset::caption(int64_t index) const { return caption(index, pick(index).scene); }

std::string WorldLatentDataset::caption(int64_t index, const Scene& scene) const {
  return detailed_caption(scene, mix_seed(options_.seed ^ 0x63617074696f6eull, uint64_t(index)));
}

Tensor WorldLatentDataset::clip(int64_t index) const {
  const WorldClipPick p = pick(index);
  return frames_to_tensor(render_window(p.scene, p.first_frame, p.frames), p.crop_x, p.crop_y,
                          p.crop_w, p.crop_h);
}

std::string WorldLatentDataset::bucket(int64_t index) const {
  const WorldClipShape s = world_clip_shape(options_.video(), index);
  return std::to_string(s.width) + "x" + std::to_string(s.height) + "x" + std::to_string(s.frames);
}

std::string WorldLatentDataset::cache_path(int64_t index) const {
  if (options_.cache_dir.empty()) return "";
  char shard[32], name[48];
  std::snprintf(shard, sizeof shard, "%05lld", static_cast<long long>(index / 1000));
  std::snprintf(name, sizeof name, "%08lld%s%s.safetensors", static_cast<long long>(index),
                world_clip_shape(options_.video(), index).image ? "-image" : "",
                world_clip_focus(options_.video(), index) ? "-focus" : "");
  return (fs::path(options_.cache_dir) / key_ / shard / name).string();
}

Tensor WorldLatentDataset::mu(int64_t index) const {
  check(index >= 0 && index < options_.count, "WorldLatentDataset", "index ", index,
        " outside [0, ", options_.count, ")");
  const WorldClipShape shape = world_clip_shape(options_.video(), index);
  const VaeConfig& vc = vae_.config();
  const kinema::Shape expect = {vc.z_dim, 1 + (shape.frames - 1) / vc.temporal_compression(),
                        shape.height / vc.spatial_compression(), shape.width / vc.spatial_compression()};
  const std::string path = cache_path(index);
  if (!path.empty()) {
    // Anything wrong with the entry (missing, truncated, foreign, bit-flipped) means recompute.
    try {
      if (fs::exists(path)) {
        TensorFile f = load_tensors(path);
        auto it = f.tensors.find("mu");
        if (it != f.tensors.end() && it->second.shape() == expect && f.metadata["key"] == key_ &&
            f.metadata["index"] == std::to_string(index)) {
          std::vector<float> v = it->second.to_vector();
          if (f.metadata["checksum"] == checksum(v)) {
            ++hits_;
            return Tensor::from_vector(v, expect);
          }
        }
      }
    } catch (const std::exception&) {
    }
  }
  ++misses_;
  Tensor video = clip(index);
  kinema::Shape vs = video.shape();
  vs.insert(vs.begin(), 1);
  std::vector<float> v;
  {
    NoGradGuard no_grad;
    VaeRunOptions run;
    run.chunking = options_.chunking;
    v = vae_.encode(reshape(video, vs), run).mu.to_vector();
  }
  Tensor out = Tensor::from_vector(v, expect);
  if (!path.empty()) {
    TensorFile f;
    f.tensors["mu"] = out;
    f.metadata = {{"format", kCacheFormat}, {"key", key_}, {"index", std::to_string(index)},
                  {"checksum", checksum(v)}};
    const fs::path p(path);
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                            std::to_string(std::hash<std::thread::id>()(std::this_thread::get_id()));
    try {
      save_tensors(tmp, f);
      fs::rename(tmp, p);
    } catch (const std::exception&) {
      fs::remove(tmp, ec);  // a full or read-only disk costs speed, not the run
    }
  }
  return out;
}

std::vector<int32_t> WorldLatentDataset::caption_ids(int64_t index) const {
  std::vector<int32_t> ids = tokenizer_.encode(caption(index));
  if (int64_t(ids.size()) > options_.max_text_len) {
    ids.resize(size_t(options_.max_text_len));
    ids.back() = tokenizer_.eos_id();  // a truncated caption keeps its eos
  }
  return ids;
}

std::vector<int32_t> WorldLatentDataset::empty_caption_ids() const { return tokenizer_.encode(""); }

Tensor WorldLatentDataset::context(int64_t index, int64_t* length) const {
  const std::vector<int32_t> ids = caption_ids(index);
  const int64_t L = int64_t(ids.size());
  TokenBatch b{1, L, ids, std::vector<int32_t>(ids.size(), 1), {L}};
  NoGradGuard no_grad;
  Tensor out = encoder_.forward(b);
  if (length) *length = L;
  return Tensor::from_vector(out.to_vector(), {L, encoder_.config().dim});
}

LatentSample WorldLatentDataset::get(int64_t index) const {
  LatentSample s;
  Tensor m = mu(index);
  kinema::Shape s5 = m.shape();
  s5.insert(s5.begin(), 1);
  {
    NoGradGuard no_grad;
    s.latent = Tensor::from_vector(vae_.normalize(reshape(m, s5)).to_vector(), m.shape());
  }
  if (options_.encode_captions) s.context = context(index, &s.context_len);
  else s.caption_ids = caption_ids(index);
  if (options_.object_weight > 0 || options_.shape_labels || options_.layout_channels > 0) {
    const WorldClipPick p = pick(index);  // the scene is drawn once for every map
    const int64_t spatial = vae_.config().spatial_compression(), temporal = vae_.config().temporal_compression();
    if (options_.object_weight > 0) s.loss_weight = object_loss_weight(p, spatial, temporal, options_.object_weight);
    if (options_.shape_labels) s.token_labels = shape_shares(p, spatial, temporal);
    if (options_.layout_channels > 0) s.layout = object_layout(p, spatial, temporal, options_.layout_channels);
  }
  return s;
}

Tensor WorldLatentDataset::empty_context() const { return empty_; }

int64_t WorldLatentDataset::precompute(int64_t first, int64_t count, bool progress) const {
  check(first >= 0 && count >= 0 && first + count <= options_.count, "WorldLatentDataset",
        "precompute range [", first, ", ", first + count, ") outside [0, ", options_.count, ")");
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t misses0 = misses_;
  for (int64_t i = 0; i < count; ++i) {
    mu(first + i);
    if (progress && (i + 1 == count || (i + 1) % 10 == 0)) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double eta = s / double(i + 1) * double(count - i - 1);
      std::fprintf(stderr, "\rprecompute %lld/%lld (%lld encoded) %.3f s/clip ETA %d:%02d   ",
                   static_cast<long long>(i + 1), static_cast<long long>(count),
                   static_cast<long long>(misses_ - misses0), s / double(i + 1), int(eta) / 60,
                   int(eta) % 60);
      if (i + 1 == count) std::fprintf(stderr, "\n");
    }
  }
  return misses_ - misses0;
}

}  // namespace kinema::world
