// The DiT as a whole: weights (init, load, save), parameters and forward.
// Wan2.1's WanModel.forward for one latent per sample, batched:
//   x -> patch_embedding -> tokens; t -> sinusoid -> time_embedding = e -> time_projection = e0
//   (Wan2.2: t may be per token, then e and e0 are too);
//   context -> text_embedding; blocks(x, e0, context); head(x, e) -> unpatchify.
#include <functional>
#include <optional>
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "models/dit/dit_internal.hpp"
#include "models/weight_map.hpp"

namespace kinema {
namespace {

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool is_norm_weight(const std::string& name) {
  return ends_with(name, "norm_q.weight") || ends_with(name, "norm_k.weight") ||
         ends_with(name, "norm3.weight");
}

// One tensor as Wan's init_weights makes it (DiTInit::wan), or fully random (DiTInit::random).
std::vector<float> init_values(const std::string& name, const Shape& shape, DiTInit init,
                               std::mt19937_64& rng) {
  std::vector<float> v(size_t(shape_numel(shape)), 0.f);
  std::normal_distribution<float> normal(0.f, 1.f);
  bool random = init == DiTInit::random;
  if (name.rfind("text_pool.", 0) == 0 || name.rfind("pos_embedding.", 0) == 0 ||
      name.rfind("layout_embedding.", 0) == 0) {
    // zero: a model given the pooled, position or layout path starts out computing what it did without it
  } else if (ends_with(name, "modulation")) {  // torch.randn(1, k, dim) / dim**0.5
    float s = 1.f / std::sqrt(float(shape.back()));
    for (float& x : v) x = normal(rng) * s;
  } else if (is_norm_weight(name)) {
    for (float& x : v) x = 1.f + (random ? 0.1f * normal(rng) : 0.f);
  } else if (ends_with(name, ".bias")) {
    if (random)
      for (float& x : v) x = 0.1f * normal(rng);
  } else if (name.rfind("text_embedding.", 0) == 0 || name.rfind("time_embedding.", 0) == 0) {
    for (float& x : v) x = 0.02f * normal(rng);  // nn.init.normal_(std=.02)
  } else if (name != "head.head.weight" || random) {  // xavier_uniform_ on [out, in...] flattened
    int64_t fan_out = shape[0], fan_in = shape_numel(shape) / shape[0];
    float bound = std::sqrt(6.f / float(fan_in + fan_out));
    std::uniform_real_distribution<float> u(-bound, bound);
    for (float& x : v) x = u(rng);
  }  // Wan zeroes head.head.weight so a fresh model predicts zero velocity
  return v;
}

// An f32 copy that owns its storage, so training never writes into the caller's (or a mapped
// file's) buffer.
Tensor f32_copy(const Tensor& t) {
  Tensor f = contiguous(cast(t, DType::f32));
  Tensor out = Tensor::empty(t.shape());
  std::memcpy(out.raw_data(), f.raw_data(), size_t(t.numel()) * 4);
  return out;
}

// Wan keeps the timestep path in f32 whatever the compute dtype. t [B] gives e [B, D] and
// e0 [B, 6, D]; per-token t [B, N] (Wan2.2: TI2V's first latent frame at t = 0) gives
// e [B, N, D] and e0 [B, N, 6, D], cut to this rank's tokens under sequence parallelism.
// Each token's place in the frame [1, N, D]: Fourier features of its patch centre's normalised
// (x, y) through pos_embedding; tokens in (T', H', W') order, the same at every frame.
Tensor position_embedding(const dit::Run& run) {
  const int64_t T = run.grid_t, H = run.grid_h, W = run.grid_w, F = kDiTPositionFeatures;
  std::vector<float> f(size_t(T * H * W * F));
  for (int64_t i = 0; i < T * H * W; ++i) {
    const double x = (double(i % W) + 0.5) / double(W) * 2 - 1, y = (double(i / W % H) + 0.5) / double(H) * 2 - 1;
    float* row = f.data() + i * F;
    for (int64_t k = 1; k <= F / 4; ++k) {
      const double a = M_PI * double(k);
      row[4 * (k - 1) + 0] = float(std::sin(a * x)), row[4 * (k - 1) + 1] = float(std::cos(a * x));
      row[4 * (k - 1) + 2] = float(std::sin(a * y)), row[4 * (k - 1) + 3] = float(std::cos(a * y));
    }
  }
  return run.linear(Tensor::from_vector(f, {1, T * H * W, F}), "pos_embedding", DType::f32);
}

// The caption's mean token [B, D] over its valid tokens (context_lens), through text_pool.
Tensor pooled_text(const dit::Run& run, const Tensor& ctx) {
  const int64_t B = ctx.size(0), L = ctx.size(1);
  const std::vector<int64_t>& lens = run.options.context_lens;
  std::vector<float> w(size_t(B * L), 1.f / float(L));
  for (int64_t b = 0; b < B && !lens.empty(); ++b)
    for (int64_t j = 0; j < L; ++j) w[size_t(b * L + j)] = j < lens[size_t(b)] ? 1.f / float(lens[size_t(b)]) : 0.f;
  Tensor mean = sum(mul(ctx, Tensor::from_vector(w, {B, L, 1})), ReduceOptions{{1}, false});  // [B, D]
  return run.linear(mean, "text_pool", DType::f32);
}

std::pair<Tensor, Tensor> time_embeddings(const dit::Run& run, const Tensor& t, int64_t B, const Tensor& pooled,
                                          const std::function<void(const std::string&, const Tensor&)>& trace) {
  const DiTConfig& c = run.config();
  Tensor freq = dit::sinusoidal_embedding(t, c.freq_dim);                    // [B·L, freq_dim]
  Tensor e = run.linear(freq, "time_embedding.0", DType::f32);               // [B·L, D]
  e = run.linear(silu(e), "time_embedding.2", DType::f32);                   // [B·L, D]
  if (pooled.defined())  // [B, D] onto each sample's (or each of its tokens') embedding
    e = t.ndim() == 1 ? add(e, pooled)
                      : reshape(add(reshape(e, {B, t.size(1), c.dim}), reshape(pooled, {B, 1, c.dim})),
                                {B * t.size(1), c.dim});
  Tensor e0 = run.linear(silu(e), "time_projection.1", DType::f32);          // [B·L, 6*D]
  if (t.ndim() == 1) {
    e0 = reshape(e0, {B, 6, c.dim});                                         // [B, 6, D]
  } else {
    const int64_t N = t.size(1);
    e = reshape(e, {B, N, c.dim}), e0 = reshape(e0, {B, N, 6, c.dim});       // [B, N, D], [B, N, 6, D]
  }
  trace("time_embedding", e);
  trace("time_projection", e0);
  if (t.ndim() == 2 && run.shard) {
    const int64_t b = run.shard->begin(), n = run.shard->size();
    e = slice(e, 1, b, b + n), e0 = slice(e0, 1, b, b + n);                  // [B, n, D], [B, n, 6, D]
  }
  return {e, e0};
}

}  // namespace

DiT DiT::init_random(const DiTConfig& config, uint64_t seed, DiTInit init) {
  DiT m;
  m.config_ = config;
  std::mt19937_64 rng(seed);
  for (const auto& [name, shape] : dit_parameter_shapes(config))
    m.weights_[name] = Tensor::from_vector(init_values(name, shape, init, rng), shape).set_requires_grad();
  return m;
}

DiT DiT::from_tensors(const TensorFile& file, const DiTLoadOptions& options) {
  DiT m;
  m.config_ = infer_dit_config(file.tensors, file.metadata);
  std::set<std::string> expected;
  for (const auto& [name, shape] : dit_parameter_shapes(m.config_)) {
    expected.insert(name);
    auto it = file.tensors.find(name);
    KINEMA_CHECK(it != file.tensors.end(), "dit", "missing tensor \"", name, "\" (inferred ",
                 m.config_.num_layers, " layers, dim ", m.config_.dim, ")");
    KINEMA_CHECK(it->second.shape() == shape, "dit", "tensor \"", name, "\" has shape ",
                 shape_str(it->second.shape()), "; expected ", shape_str(shape), " (inferred dim ",
                 m.config_.dim, ", ffn_dim ", m.config_.ffn_dim, ", in_dim ", m.config_.in_dim, ")");
    m.weights_[name] = options.trainable ? f32_copy(it->second).set_requires_grad() : it->second;
  }
  for (const auto& [name, _] : file.tensors)
    KINEMA_CHECK(expected.count(name), "dit", "unexpected tensor \"", name,
                 "\" for a DiT with ", m.config_.num_layers, " layers");
  return m;
}

TensorFile DiT::to_tensors() const {
  TensorFile f;
  for (const auto& [name, t] : weights_) f.tensors[name] = t.detach();
  f.metadata["model"] = "kinema.dit";
  f.metadata["num_heads"] = std::to_string(config_.num_heads);
  return f;
}

std::vector<Tensor> DiT::parameters() const {
  std::vector<Tensor> out;
  for (const auto& [name, _] : dit_parameter_shapes(config_)) out.push_back(weights_.at(name));
  return out;
}

const Tensor& DiT::weight(const std::string& name) const {
  return find_weight(weights_, name, "dit");
}

Tensor DiT::forward(const Tensor& x, const Tensor& t, const Tensor& context,
                    const DiTForwardOptions& options) const {
  const DiTConfig& c = config_;
  KINEMA_CHECK(options.compute == DType::f32 || options.compute == DType::bf16, "dit",
               "compute dtype must be f32 or bf16; got ", dtype_name(options.compute));
  KINEMA_CHECK(x.ndim() == 5, "dit", "latent must be [B, C, T, H, W]; got ", shape_str(x.shape()));
  int64_t B = x.size(0);
  KINEMA_CHECK((t.ndim() == 1 || t.ndim() == 2) && t.size(0) == B, "dit", "timesteps must be [B] = [", B,
               "] or per token [B, tokens]; got ", shape_str(t.shape()));
  KINEMA_CHECK(context.ndim() == 3 && context.size(0) == B && context.size(2) == c.text_dim, "dit",
               "context must be [B, L, text_dim] = [", B, ", L, ", c.text_dim, "]; got ",
               shape_str(context.shape()));
  std::function<void(const std::string&, const Tensor&)> trace = [&](const std::string& name, const Tensor& v) {
    if (options.trace) (*options.trace)[name] = v;
  };
  dit::Run run{*this, options, 1, 1, 1, {}};
  if (!options.context_lens.empty()) {
    int64_t L = context.size(1);
    KINEMA_CHECK(int64_t(options.context_lens.size()) == B, "dit", "context_lens has ",
                 options.context_lens.size(), " entries; expected B = ", B);
    std::vector<float> m(size_t(B * L), 0.f);
    for (int64_t b = 0; b < B; ++b) {
      int64_t n = options.context_lens[size_t(b)];
      KINEMA_CHECK(n >= 1 && n <= L, "dit", "context_lens[", b, "] = ", n, " outside [1, ", L, "]");
      for (int64_t j = n; j < L; ++j) m[size_t(b * L + j)] = -1e30f;
    }
    run.context_mask = Tensor::from_vector(m, {B, 1, 1, L});  // [B, 1, 1, L]
  }

  Tensor tokens = dit::patchify(run, x);  // [B, N, D]
  if (c.absolute_position) tokens = add(tokens, position_embedding(run));  // broadcast over B
  KINEMA_CHECK(c.layout_channels > 0 || !options.layout.defined(), "dit",
               "a layout was given but this DiT has no layout path (layout_embedding)");
  if (c.layout_channels > 0) tokens = add(tokens, dit::layout_tokens(run, B));
  trace("patch_embedding", tokens);
  KINEMA_CHECK(t.ndim() == 1 || t.size(1) == tokens.size(1), "dit", "per-token timesteps must be [B, tokens] = [", B,
               ", ", tokens.size(1), "] for this latent; got ", shape_str(t.shape()));
  std::optional<dit::SequenceShard> shard;
  if (options.sequence_parallel && options.sequence_parallel->size() > 1) {
    KINEMA_CHECK(options.checkpointing == DiTCheckpointing::none, "dit",
                 "sequence parallelism runs inference only; it cannot be combined with checkpointing");
    shard = dit::SequenceShard::make(*options.sequence_parallel, tokens.size(1), c.num_heads);
    run.shard = &*shard;
    tokens = slice(tokens, 1, shard->begin(), shard->begin() + shard->size());  // [B, n, D]
  }
  Tensor ctx = dit::text_embedding(run, context);  // [B, L, D]
  trace("text_embedding", ctx);
  const Tensor pooled = c.pooled_text ? pooled_text(run, ctx) : Tensor();  // [B, D]
  auto [e, e0] = time_embeddings(run, t, B, pooled, trace);  // [B, D] and [B, 6, D], or per token [B, n, ...]
  KINEMA_CHECK(options.image_context.defined() == (c.image_dim > 0), "dit",
               c.image_dim > 0 ? "this DiT is Wan I2V/FLF2V: give the image's CLIP features (image_context)"
                               : "this DiT has no image branch (text-to-video): image_context must be empty");
  if (c.image_dim > 0) {
    const Tensor& clip = options.image_context;
    KINEMA_CHECK(clip.ndim() == 3 && clip.size(0) == B && clip.size(2) == c.image_dim &&
                     (c.image_tokens == 0 || clip.size(1) == c.image_tokens),
                 "dit", "image_context must be [B, ", c.image_tokens > 0 ? std::to_string(c.image_tokens) : "Li",
                 ", ", c.image_dim, "] = CLIP features; got ", shape_str(clip.shape()));
    Tensor img = dit::image_embedding(run, clip);  // [B, Li, D]
    trace("img_emb", img);
    run.image_tokens = img.size(1);
    ctx = concat({img, ctx}, 1);  // [B, Li + L, D], as Wan concatenates them
  }
  bool recompute = options.checkpointing == DiTCheckpointing::blocks && grad_enabled();
  dit::Run saved = run;  // what a checkpointed block needs again in backward
  saved.options.trace = nullptr;
  saved.options.condition = Tensor();
  for (int i = 0; i < int(c.num_layers); ++i) {
    if (recompute)
      tokens = checkpoint([saved, i](const std::vector<Tensor>& in) {
        return dit::attention_block(saved, i, in[0], in[1], in[2]);
      }, {tokens, e0, ctx});  // [B, N, D]
    else
      tokens = dit::attention_block(run, i, tokens, e0, ctx);  // [B, N, D]
    trace("blocks." + std::to_string(i), tokens);
  }
  Tensor out = dit::head(run, tokens, e);  // [B, N, C_out*pt*ph*pw]
  if (shard) out = shard->gather_tokens(out);
  trace("head", out);
  return dit::unpatchify(run, out);  // [B, C_out, T, H, W]
}

Tensor no_frame_condition(const DiTConfig& c, const Shape& latent) {
  KINEMA_CHECK(latent.size() == 5, "dit", "a latent is [B, C, T, H, W]; got ", shape_str(latent));
  if (c.in_dim <= c.out_dim) return {};
  return Tensor::zeros({latent[0], c.in_dim - c.out_dim, latent[2], latent[3], latent[4]});
}

}  // namespace kinema
