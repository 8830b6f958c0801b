// Flow matching batches: timesteps, noise, caption dropout and frame-conditioning patterns.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/train.hpp"
#include "train/latent_blur.hpp"
#include "train/token_labels.hpp"

namespace kinema {

float shift_timestep(float t, float shift) {
  // SD3 eq. 23 / Wan's sample_shift: t' = s t / (1 + (s - 1) t).
  return shift * t / (1.f + (shift - 1.f) * t);
}

float resolution_shift(int64_t tokens, int64_t base_tokens) {
  check(tokens > 0 && base_tokens > 0, "resolution_shift", "token counts must be positive; got ",
        tokens, " and ", base_tokens);
  return std::max(1.f, float(std::sqrt(double(tokens) / double(base_tokens))));
}

const char* condition_pattern_name(ConditionPattern p) {
  switch (p) {
    case ConditionPattern::none: return "none";
    case ConditionPattern::first_frame: return "first_frame";
    case ConditionPattern::first_k: return "first_k";
    case ConditionPattern::last_k: return "last_k";
    case ConditionPattern::first_and_last: return "first_and_last";
    case ConditionPattern::scattered: return "scattered";
    case ConditionPattern::from_sample: return "from_sample";
  }
  return "?";
}

void check_flow_options(const FlowMatchingOptions& o) {
  check(o.blur_prob >= 0 && o.blur_prob <= 1 && o.blur_min_t > 0 && o.blur_min_t <= 1 && o.blur_sigma_min >= 0 &&
            o.blur_sigma_min <= o.blur_sigma_max && o.blur_sigma_max <= 64,
        "flow matching", "outline-blind inputs need --blur in [0, 1] (got ", o.blur_prob, "), --blur-from in (0, 1] (got ",
        o.blur_min_t, ") and 0 <= --blur-sigma-min <= --blur-sigma-max <= 64 (got ", o.blur_sigma_min, ", ",
        o.blur_sigma_max, ")");
  check(o.layout_drop >= 0 && o.layout_drop <= 1, "flow matching", "--layout-drop must be in [0, 1]; got ",
        o.layout_drop);
}

namespace {

ConditionPattern draw_pattern(const FlowMatchingOptions& o, TrainRng& rng) {
  const float p[] = {o.p_none, o.p_first_frame, o.p_first_k, o.p_last_k, o.p_first_and_last,
                     o.p_scattered};
  float total = 0;
  for (float x : p) total += x;
  float u = rng.uniform() * total;
  for (int i = 0; i < 6; ++i) {
    if (u < p[i]) return ConditionPattern(i);
    u -= p[i];
  }
  return ConditionPattern::none;
}

// Which of T latent frames are given under pattern p.
std::vector<char> given_frames(ConditionPattern p, int64_t T, TrainRng& rng) {
  std::vector<char> g(size_t(T), 0);
  int64_t k = T > 1 ? 1 + int64_t(rng.next_u32() % uint32_t(T - 1)) : 1;  // 1 .. T-1
  switch (p) {
    case ConditionPattern::none: break;
    case ConditionPattern::first_frame: g[0] = 1; break;
    case ConditionPattern::first_k: std::fill(g.begin(), g.begin() + k, 1); break;
    case ConditionPattern::last_k: std::fill(g.end() - k, g.end(), 1); break;
    case ConditionPattern::first_and_last: g[0] = 1, g[size_t(T - 1)] = 1; break;
    case ConditionPattern::from_sample: break;  // not drawn
    case ConditionPattern::scattered: {
      bool any = false;
      for (auto& x : g) {
        x = rng.uniform() < 0.25f;
        any |= x != 0;
      }
      if (!any) g[rng.next_u32() % uint32_t(T)] = 1;
      break;
    }
  }
  return g;
}

// The samples' [T, H, W] loss weights repeated over the C channels: [B, C, T, H, W]; undefined
// when no sample has one (a batch mixes none with some only by mistake).
Tensor batch_loss_weight(const std::vector<LatentSample>& samples, const Shape& lat) {
  if (!samples[0].loss_weight.defined()) return {};
  const int64_t C = lat[0], plane = lat[1] * lat[2] * lat[3];
  const Shape expect{lat[1], lat[2], lat[3]};
  std::vector<float> w;
  w.reserve(size_t(int64_t(samples.size()) * C * plane));
  for (size_t i = 0; i < samples.size(); ++i) {
    const Tensor& lw = samples[i].loss_weight;
    check(lw.defined() && lw.shape() == expect, "make_flow_batch", "sample ", i, "'s loss weight is ",
          lw.defined() ? shape_str(lw.shape()) : std::string("missing"), "; expected ", shape_str(expect),
          " like sample 0's");
    const std::vector<float> v = lw.to_vector();
    for (int64_t c = 0; c < C; ++c) w.insert(w.end(), v.begin(), v.end());
  }
  return Tensor::from_vector(w, {int64_t(samples.size()), lat[0], lat[1], lat[2], lat[3]});
}

// [B, K, T, H, W] from the samples' layout maps, each withheld (zeros) with probability
// layout_drop: drawn from the sample's own generator after its other draws, and only when it
// carries a layout, so runs without layouts keep their random streams.
Tensor batch_layout(const std::vector<LatentSample>& samples, const Shape& lat, const FlowMatchingOptions& o,
                    std::vector<TrainRng>& srng, int& dropped) {
  if (!samples[0].layout.defined()) return {};
  const Shape& ls = samples[0].layout.shape();
  check(ls.size() == 4 && ls[1] == lat[1] && ls[2] == lat[2] && ls[3] == lat[3], "make_flow_batch",
        "sample 0's layout is ", shape_str(ls), "; expected [K, T, H, W] with T, H, W = ", lat[1], ", ", lat[2],
        ", ", lat[3]);
  const int64_t per = shape_numel(ls);
  std::vector<float> out(size_t(int64_t(samples.size()) * per), 0.f);
  for (size_t i = 0; i < samples.size(); ++i) {
    const Tensor& l = samples[i].layout;
    check(l.defined() && l.shape() == ls, "make_flow_batch", "sample ", i, "'s layout is ",
          l.defined() ? shape_str(l.shape()) : std::string("missing"), "; expected ", shape_str(ls), " like sample 0's");
    if (o.layout_drop > 0 && srng[i].uniform() < o.layout_drop) {
      ++dropped;
      continue;
    }
    const std::vector<float> v = l.to_vector();
    std::copy(v.begin(), v.end(), out.begin() + int64_t(i) * per);
  }
  return Tensor::from_vector(out, {int64_t(samples.size()), ls[0], ls[1], ls[2], ls[3]});
}

}  // namespace

std::vector<TrainRng> sample_generators(TrainRng& rng, int64_t count) {
  std::vector<TrainRng> out;
  for (int64_t i = 0; i < count; ++i) {
    uint64_t hi = rng.next_u32(), lo = rng.next_u32();
    out.emplace_back((hi << 32) | lo, 0x73616d706c65ULL);
  }
  return out;
}

FlowBatch make_flow_batch(const std::vector<LatentSample>& samples, const Tensor& empty_context,
                          int64_t condition_channels, const DiTConfig& model,
                          const FlowMatchingOptions& options, TrainRng& rng,
                          const std::vector<int32_t>& empty_ids) {
  check(!samples.empty(), "make_flow_batch", "no samples");
  const Shape lat = samples[0].latent.shape();  // [C, T, H, W]
  check(lat.size() == 4, "make_flow_batch", "latents must be [C, T, H, W]; got ", shape_str(lat));
  const int64_t B = int64_t(samples.size()), C = lat[0], T = lat[1], H = lat[2], W = lat[3];
  const int64_t per = C * T * H * W, M = condition_channels - C;  // mask channels
  check(condition_channels == 0 || M >= 0, "make_flow_batch", "conditioning needs at least ", C,
        " channels for the known latents; the model has ", condition_channels);
  const int64_t D = model.text_dim;
  const int64_t tokens = (T / model.patch_size[0]) * (H / model.patch_size[1]) * (W / model.patch_size[2]);
  check_flow_options(options);
  const float shift = options.shift > 0 ? options.shift : resolution_shift(tokens, options.base_tokens);

  // Text: dropped captions take the empty caption; all are padded to the longest.
  std::vector<Tensor> ctx(static_cast<size_t>(B));
  std::vector<int64_t> lens(static_cast<size_t>(B));
  FlowBatch b;
  int64_t L = 0;
  // One generator per sample, seeded from rng in order: a batch of 4 draws exactly what two
  // micro-batches of 2 draw, so gradient accumulation reproduces the large batch.
  std::vector<TrainRng> srng = sample_generators(rng, B);
  // Captions as token ids (joint text training): samples bring ids and no context.
  const bool as_tokens = !samples[0].context.defined() && !samples[0].caption_ids.empty();
  check(!as_tokens || !empty_ids.empty(), "make_flow_batch",
        "samples carry caption ids but no empty caption's ids were given (for caption dropout)");
  std::vector<const std::vector<int32_t>*> ids;
  for (int64_t i = 0; i < B; ++i) {
    const LatentSample& s = samples[size_t(i)];
    check(s.latent.shape() == lat, "make_flow_batch", "latent ", i, " is ", shape_str(s.latent.shape()),
          "; a batch needs one shape, expected ", shape_str(lat), " (bucket by size)");
    bool drop = srng[size_t(i)].uniform() < options.caption_dropout;
    b.dropped.push_back(drop);
    if (as_tokens) {
      check(!s.context.defined() && !s.caption_ids.empty(), "make_flow_batch", "sample ", i,
            " mixes contexts and caption ids with sample 0");
      ids.push_back(drop ? &empty_ids : &s.caption_ids);
      L = std::max(L, int64_t(ids.back()->size()));
      continue;
    }
    ctx[size_t(i)] = drop ? empty_context : s.context;
    check(ctx[size_t(i)].ndim() == 2 && ctx[size_t(i)].size(1) == D, "make_flow_batch", "context ", i,
          " is ", shape_str(ctx[size_t(i)].shape()), "; expected [L, ", D, "]");
    lens[size_t(i)] = drop || s.context_len < 0 ? ctx[size_t(i)].size(0) : s.context_len;
    L = std::max(L, ctx[size_t(i)].size(0));
  }
  if (as_tokens) {
    TokenBatch& t = b.captions;
    t.batch = B, t.length = L;
    t.ids.assign(size_t(B * L), 0), t.mask.assign(size_t(B * L), 0);
    for (int64_t i = 0; i < B; ++i) {
      const std::vector<int32_t>& row = *ids[size_t(i)];
      std::copy(row.begin(), row.end(), t.ids.begin() + i * L);
      std::fill_n(t.mask.begin() + i * L, row.size(), 1);
      t.lengths.push_back(int64_t(row.size()));
    }
  } else {
    std::vector<float> context(size_t(B * L * D), 0.f);
    bool padded = false;
    for (int64_t i = 0; i < B; ++i) {
      std::vector<float> v = ctx[size_t(i)].to_vector();
      std::copy(v.begin(), v.end(), context.begin() + i * L * D);
      padded |= lens[size_t(i)] != L;
    }
    b.context = Tensor::from_vector(context, {B, L, D});
    if (padded) b.context_lens = lens;
  }

  // Timesteps, noise, x_t and the velocity target.
  std::vector<float> xt(static_cast<size_t>(B * per)), vel(xt.size()), ts(static_cast<size_t>(B));
  std::vector<float> cond(size_t(B * std::max<int64_t>(condition_channels, 0) * T * H * W), 0.f);
  const int64_t plane = H * W;
  for (int64_t i = 0; i < B; ++i) {
    TrainRng& r = srng[size_t(i)];
    float u = options.logit_mean + options.logit_std * r.normal();
    float t = shift_timestep(1.f / (1.f + std::exp(-u)), shift);
    b.t.push_back(t);
    ts[size_t(i)] = t * 1000.f;
    std::vector<float> x0 = samples[size_t(i)].latent.to_vector();
    // The draw happens only when blurring is on, so plain training keeps its random stream.
    const bool blind = options.blur_prob > 0 && t >= options.blur_min_t && r.uniform() < options.blur_prob;
    std::vector<float> blurred;
    if (blind) {
      blurred = x0;
      const float u_sigma = r.uniform();
      gaussian_blur_planes(blurred.data(), C * T, H, W,
                           options.blur_sigma_min + u_sigma * (options.blur_sigma_max - options.blur_sigma_min));
      ++b.blurred;
    }
    const std::vector<float>& shown = blind ? blurred : x0;  // what x_t is made from
    for (int64_t j = 0; j < per; ++j) {
      const float eps = r.normal(), x = (1.f - t) * shown[size_t(j)] + t * eps;
      xt[size_t(i * per + j)] = x;
      // Blind: the velocity whose clean estimate x_t - t v is the sharp latent.
      vel[size_t(i * per + j)] = blind ? (x - x0[size_t(j)]) / t : eps - x0[size_t(j)];
    }
    if (condition_channels == 0) continue;
    float* c = cond.data() + i * condition_channels * T * plane;  // [mask (M) | known (C)] x T x H x W
    if (const Tensor& given_cond = samples[size_t(i)].condition; given_cond.defined()) {
      check(given_cond.shape() == Shape{condition_channels, T, H, W}, "make_flow_batch", "sample ", i,
            "'s condition is ", shape_str(given_cond.shape()), "; expected ",
            shape_str({condition_channels, T, H, W}));
      std::vector<float> v = given_cond.to_vector();
      std::copy(v.begin(), v.end(), c);
      b.patterns.push_back(ConditionPattern::from_sample);
      continue;
    }
    // An image (one latent frame) under any pattern but none is given whole: nothing left to
    // learn, so images always train text-to-image.
    ConditionPattern p = T > 1 ? draw_pattern(options, r) : ConditionPattern::none;
    b.patterns.push_back(p);
    std::vector<char> given = given_frames(p, T, r);
    for (int64_t f = 0; f < T; ++f) {
      if (!given[size_t(f)]) continue;
      for (int64_t m = 0; m < M; ++m) std::fill_n(c + (m * T + f) * plane, plane, 1.f);
      for (int64_t ch = 0; ch < C; ++ch)
        std::copy_n(x0.data() + (ch * T + f) * plane, plane, c + ((M + ch) * T + f) * plane);
    }
  }
  b.x_t = Tensor::from_vector(xt, {B, C, T, H, W});
  b.velocity = Tensor::from_vector(vel, {B, C, T, H, W});
  b.timesteps = Tensor::from_vector(ts, {B});
  if (condition_channels > 0) b.condition = Tensor::from_vector(cond, {B, condition_channels, T, H, W});
  b.loss_weight = batch_loss_weight(samples, lat);
  b.token_targets = batch_token_targets(samples, model.patch_size);
  b.layout = batch_layout(samples, lat, options, srng, b.dropped_layouts);
  return b;
}

Tensor flow_loss(const Tensor& prediction, const FlowBatch& b) {
  if (!b.loss_weight.defined()) return mse_loss(prediction, b.velocity);
  check(prediction.shape() == b.loss_weight.shape(), "flow_loss", "prediction ", shape_str(prediction.shape()),
        " and loss weight ", shape_str(b.loss_weight.shape()), " differ");
  return mean(mul(square(sub(prediction, b.velocity)), b.loss_weight));
}

float evaluate_flow_loss(const DiT& model, const LatentDataset& data, const FlowEvalOptions& options) {
  check(!options.t.empty(), "evaluate_flow_loss", "no timesteps given");
  NoGradGuard no_grad;
  const DiTConfig& cfg = model.config();
  const int64_t cond_channels = cfg.in_dim > cfg.out_dim ? cfg.in_dim - cfg.out_dim : 0;
  TrainRng rng(options.seed, 0x6576616cULL);
  double total = 0;
  for (int64_t i = 0; i < data.size(); ++i) {
    LatentSample s = data.get(i);
    Shape shape = s.latent.shape();
    shape.insert(shape.begin(), 1);  // [1, C, T, H, W]
    std::vector<float> x0 = s.latent.to_vector();
    Tensor context = reshape(s.context, {1, s.context.size(0), s.context.size(1)});
    DiTForwardOptions fo;
    fo.compute = options.compute;
    if (s.context_len >= 0) fo.context_lens = {s.context_len};
    if (cond_channels > 0) {
      Shape cs = shape;
      cs[1] = cond_channels;
      fo.condition = s.condition.defined() ? reshape(s.condition, cs) : no_frame_condition(cfg, shape);
    }
    if (cfg.layout_channels > 0 && s.layout.defined()) {
      Shape ls = s.layout.shape();
      ls.insert(ls.begin(), 1);
      fo.layout = reshape(s.layout, ls);
    }
    for (float t : options.t) {
      std::vector<float> xt(x0.size()), v(x0.size());
      for (size_t j = 0; j < x0.size(); ++j) {
        float eps = rng.normal();
        xt[j] = (1.f - t) * x0[j] + t * eps;
        v[j] = eps - x0[j];
      }
      Tensor pred = model.forward(Tensor::from_vector(xt, shape), Tensor::from_vector({1000.f * t}, {1}),
                                  context, fo);
      total += mse_loss(pred, Tensor::from_vector(v, shape)).item();
    }
  }
  return float(total / double(data.size() * int64_t(options.t.size())));
}

}  // namespace kinema
