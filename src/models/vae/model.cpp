// The VAE as a whole: weights (init, load, save), parameters, chunked encode and decode,
// latent normalisation, reparameterised sampling and the KL term.
// Wan's WanVAE_.encode: encoder over frame 0, then chunks of 4 frames (one time cache across
// chunks), conv1 on the concatenated output, split into mu and logvar. decode: conv2 over the
// latent, then the decoder one latent frame at a time with its own time cache.
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <sstream>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "models/vae/vae_internal.hpp"

namespace kinema {
namespace {

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// An f32 copy that owns its storage (the optimiser never writes into a caller's buffer).
Tensor f32_copy(const Tensor& t) {
  Tensor f = contiguous(cast(t, DType::f32));
  Tensor out = Tensor::empty(t.shape());
  std::memcpy(out.raw_data(), f.raw_data(), size_t(t.numel()) * 4);
  return out;
}

std::string join(const std::vector<float>& v) {
  std::ostringstream os;
  os.precision(9);
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  return os.str();
}

// Collects the per-chunk trace into options.trace, concatenated over time.
void flush_trace(vae::Run& run, const VaeRunOptions& o) {
  if (!o.trace) return;
  for (auto& [name, parts] : run.trace) (*o.trace)[name] = parts.size() == 1 ? parts[0] : concat(parts, 2);
}

Tensor channel_vector(const std::vector<float>& v) {
  return Tensor::from_vector(v, {1, int64_t(v.size()), 1, 1, 1});  // [1, z, 1, 1, 1]
}

}  // namespace

VAE VAE::init_random(const VaeConfig& config, uint64_t seed, VaeInit init) {
  VAE m;
  m.config_ = config;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  bool random = init == VaeInit::random;
  float bound = 1.f;  // of the last conv weight, for its bias (PyTorch's default conv init)
  for (const auto& [name, shape] : vae_parameter_shapes(config)) {
    std::vector<float> v(size_t(shape_numel(shape)), 0.f);
    if (ends_with(name, ".gamma")) {
      for (float& x : v) x = 1.f + (random ? 0.2f * normal(rng) : 0.f);
    } else if (ends_with(name, ".proj.weight") && !random) {
      // Wan zeroes the attention output projection: the block starts as the identity
    } else {
      if (ends_with(name, ".weight")) bound = 1.f / std::sqrt(float(shape_numel(shape) / shape[0]));
      std::uniform_real_distribution<float> u(-bound, bound);  // kaiming_uniform(a=√5) and bias init
      for (float& x : v) x = u(rng);
    }
    m.weights_[name] = Tensor::from_vector(v, shape).set_requires_grad();
  }
  return m;
}

VAE VAE::from_tensors(const TensorFile& file, const VaeLoadOptions& options) {
  VAE m;
  m.config_ = infer_vae_config(file.tensors, file.metadata);
  const VaeConfig& c = m.config_;
  std::set<std::string> expected;
  for (const auto& [name, shape] : vae_parameter_shapes(c)) {
    expected.insert(name);
    auto it = file.tensors.find(name);
    KINEMA_CHECK(it != file.tensors.end(), "vae", "missing tensor \"", name, "\" (inferred dim ", c.dim,
                 ", z_dim ", c.z_dim, ", ", c.dim_mult.size(), " stages, ", c.num_res_blocks, " residual blocks)");
    KINEMA_CHECK(it->second.shape() == shape, "vae", "tensor \"", name, "\" has shape ",
                 shape_str(it->second.shape()), "; expected ", shape_str(shape), " (inferred dim ", c.dim,
                 ", z_dim ", c.z_dim, ")");
    m.weights_[name] = options.trainable ? f32_copy(it->second).set_requires_grad() : it->second;
  }
  for (const auto& [name, _] : file.tensors)
    KINEMA_CHECK(expected.count(name), "vae", "unexpected tensor \"", name, "\" for a VAE with ",
                 c.dim_mult.size(), " stages of ", c.num_res_blocks,
                 " residual blocks (attention inside stages is not supported)");
  return m;
}

TensorFile VAE::to_tensors() const {
  TensorFile f;
  for (const auto& [name, t] : weights_) f.tensors[name] = t.detach();
  f.metadata["model"] = "kinema.vae";
  if (!config_.latents_mean.empty()) {
    f.metadata["latents_mean"] = join(config_.latents_mean);
    f.metadata["latents_std"] = join(config_.latents_std);
  }
  return f;
}

std::vector<Tensor> VAE::parameters() const {
  std::vector<Tensor> out;
  for (const auto& [name, _] : vae_parameter_shapes(config_)) out.push_back(weights_.at(name));
  return out;
}

const Tensor& VAE::weight(const std::string& name) const {
  auto it = weights_.find(name);
  KINEMA_CHECK(it != weights_.end(), "vae", "missing tensor \"", name, "\"");
  return it->second;
}

VaeLatent VAE::encode(const Tensor& video, const VaeRunOptions& options) const {
  const VaeConfig& c = config_;
  int64_t tc = c.temporal_compression(), s = c.spatial_compression();
  KINEMA_CHECK(video.ndim() == 5 && video.size(1) == 3, "vae", "video must be [B, 3, T, H, W]; got ",
               shape_str(video.shape()));
  int64_t T = video.size(2);
  KINEMA_CHECK(T >= 1 && (T - 1) % tc == 0, "vae", "video has ", T, " frames; expected 1 + k·", tc,
               " (the first frame alone, then chunks of ", tc, ")");
  KINEMA_CHECK(video.size(3) % s == 0 && video.size(4) % s == 0, "vae", "video size ",
               video.size(3), "x", video.size(4), " is not divisible by the spatial compression ", s);
  vae::Run run{*this, {}, {}, options.trace != nullptr};
  run.compute = options.compute;
  std::vector<Tensor> outs;
  if (options.chunking == VaeChunking::whole) {
    outs.push_back(vae::encoder_chunk(run, video));  // [B, 2z, T', h, w]
  } else {
    for (int64_t start = 0; start < T;) {
      int64_t end = start == 0 ? 1 : start + tc;  // frame 0 alone, then tc frames
      run.cache.next = 0;
      outs.push_back(vae::encoder_chunk(run, slice(video, 2, start, end)));  // [B, 2z, t', h, w]
      start = end;
    }
  }
  Tensor h = outs.size() == 1 ? outs[0] : concat(outs, 2);  // [B, 2z, T', h, w]
  Tensor m = vae::pointwise_conv(run, "conv1", h);          // [B, 2z, T', h, w]
  VaeLatent out{contiguous(slice(m, 1, 0, c.z_dim)), contiguous(slice(m, 1, c.z_dim, 2 * c.z_dim))};  // [B, z, T', h, w]
  run.record("mu", out.mu);
  run.record("logvar", out.logvar);
  flush_trace(run, options);
  return out;
}

Tensor VAE::decode(const Tensor& z, const VaeRunOptions& options) const {
  KINEMA_CHECK(z.ndim() == 5 && z.size(1) == config_.z_dim && z.size(2) >= 1, "vae",
               "latent must be [B, z_dim, T, H, W] with z_dim ", config_.z_dim, "; got ", shape_str(z.shape()));
  vae::Run run{*this, {}, {}, options.trace != nullptr};
  run.compute = options.compute;
  Tensor x = vae::pointwise_conv(run, "conv2", z);  // [B, z, T', h, w]
  run.record("conv2", x);
  std::vector<Tensor> outs;
  if (options.chunking == VaeChunking::whole) {
    outs.push_back(vae::decoder_chunk(run, x));  // [B, 3, T, H, W]
  } else {
    for (int64_t i = 0; i < z.size(2); ++i) {
      run.cache.next = 0;
      run.first_chunk = i == 0;
      outs.push_back(vae::decoder_chunk(run, slice(x, 2, i, i + 1)));  // [B, 3, 1 or tc, H, W]
    }
  }
  flush_trace(run, options);
  return outs.size() == 1 ? outs[0] : concat(outs, 2);  // [B, 3, 1 + (T'-1)·tc, H, W]
}

Tensor VAE::normalize(const Tensor& mu) const {
  if (config_.latents_mean.empty()) return mu;
  return div(sub(mu, channel_vector(config_.latents_mean)), channel_vector(config_.latents_std));
}

Tensor VAE::denormalize(const Tensor& z) const {
  if (config_.latents_mean.empty()) return z;
  return add(mul(z, channel_vector(config_.latents_std)), channel_vector(config_.latents_mean));
}

Tensor vae_sample(const VaeLatent& latent, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> e(size_t(latent.mu.numel()));
  for (float& x : e) x = normal(rng);
  Tensor eps = Tensor::from_vector(e, latent.mu.shape());
  return add(latent.mu, mul(exp(scale(latent.logvar, 0.5f)), eps));  // [B, z, T, h, w]
}

Tensor vae_kl(const VaeLatent& latent) {
  const Tensor& lv = latent.logvar;
  Tensor terms = sub(add(square(latent.mu), exp(lv)), add_scalar(lv, 1.f));
  return scale(mean(terms), 0.5f);
}

}  // namespace kinema
