// The text-to-video pipeline: bundle loading with checksums, request checks with actionable
// errors, and prompt -> caption -> context -> sampled latent -> decoded frames.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/mapped_file.hpp"
#include "generate/internal.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/dist.hpp"
#include "kinema/error.hpp"
#include "kinema/weights.hpp"
#include "kinema/ops.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/sampler.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/train.hpp"
#include "kinema/world.hpp"
#include "kinema/world_latents.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string checked_file(const std::string& dir, const ModelManifest::File& f, const char* what) {
  const std::string path = (fs::path(dir) / f.path).string();
  check(fs::exists(path), "model", "the ", what, " file ", path, " is missing; restore it (git checkout ",
        f.path, ") or point --model at a complete model directory");
  const std::string got = sha256_file(path);
  check(got == f.sha256, "model", path, " is corrupted or was replaced: its SHA-256 is ", got,
        " but model.json expects ", f.sha256, "; restore the file (git checkout) or retrain it");
  return path;
}

}  // namespace

int64_t detail::available_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return int64_t(8) << 30;
}

namespace {

// Nearest multiple of m (at least m).
int nearest_multiple(int v, int m) { return std::max(m, int(std::lround(double(v) / m)) * m); }

}  // namespace

Tensor encode_caption(const Tokenizer& tokenizer, const TextEncoder& encoder, const std::string& text,
                      int64_t max_len) {
  std::vector<int32_t> ids = tokenizer.encode(text);
  if (int64_t(ids.size()) > max_len) {
    ids.resize(size_t(max_len));
    ids.back() = tokenizer.eos_id();  // a truncated caption keeps its eos
  }
  const int64_t L = int64_t(ids.size());
  TokenBatch b{1, L, ids, std::vector<int32_t>(ids.size(), 1), {L}};
  NoGradGuard no_grad;
  return reshape(encoder.forward(b), {L, encoder.config().dim});
}

Pipeline::Pipeline(std::string dir, ModelManifest m, Tokenizer t, TextEncoder e, VAE v, DiT d)
    : dir_(std::move(dir)), manifest_(std::move(m)), tokenizer_(std::move(t)), encoder_(std::move(e)),
      vae_(std::move(v)), dit_(std::move(d)) {}

Pipeline Pipeline::load(const std::string& dir, const PipelineLoadOptions& options) {
  if (!fs::exists(fs::path(dir) / "model.json") &&
      (fs::exists(fs::path(dir) / "Wan2.1_VAE.pth") || fs::exists(fs::path(dir) / "Wan2.2_VAE.pth")))
    return load_wan(dir, options);
  ModelManifest m = read_manifest((fs::path(dir) / "model.json").string());
  Tokenizer tok = Tokenizer::load(checked_file(dir, m.tokenizer, "tokenizer"));
  TextEncoder enc = TextEncoder::from_tensors(load_tensors(checked_file(dir, m.text_encoder, "text encoder")));
  VAE vae = VAE::from_tensors(load_tensors(checked_file(dir, m.vae, "VAE")));
  DiT dit = DiT::from_tensors(detail::dit_weights(load_tensors(checked_file(dir, m.dit, "DiT")), options));
  Pipeline p = from_models(std::move(m), std::move(tok), std::move(enc), std::move(vae), std::move(dit));
  p.dir_ = dir;
  return p;
}

Pipeline Pipeline::from_models(ModelManifest m, Tokenizer tokenizer, TextEncoder encoder, VAE vae, DiT dit) {
  check(dit.config().text_dim == encoder.config().dim, "model", "the DiT reads text of width ",
        dit.config().text_dim, " but the text encoder writes ", encoder.config().dim);
  check(dit.config().out_dim == vae.config().z_dim, "model", "the DiT predicts ", dit.config().out_dim,
        " channels but the VAE's latent has ", vae.config().z_dim);
  check(!m.sizes.empty(), "model", "the manifest lists no trained size; give at least one (width, height)");
  return Pipeline("", std::move(m), std::move(tokenizer), std::move(encoder), std::move(vae), std::move(dit));
}

GenerateRequest Pipeline::resolve(const GenerateRequest& in) const {
  GenerateRequest r = in;
  const ModelManifest& m = manifest_;
  if (r.width <= 0 || r.height <= 0) r.width = m.sizes[0].first, r.height = m.sizes[0].second;
  const int grid = int(vae_.config().spatial_compression() * dit_.config().patch_size[1]);
  check(r.width % grid == 0 && r.height % grid == 0, "generate", "size ", r.width, "x", r.height,
        " is not a multiple of ", grid, " (VAE x", vae_.config().spatial_compression(), " times patch ",
        dit_.config().patch_size[1], "); nearest valid: ", nearest_multiple(r.width, grid), "x",
        nearest_multiple(r.height, grid));
  check(r.width <= 4096 && r.height <= 4096, "generate", "size ", r.width, "x", r.height,
        " is too large (at most 4096 per side)");
  if (r.fps <= 0) r.fps = m.fps;
  check(r.fps <= 60, "generate", "fps ", r.fps, " is out of range (1..60)");
  if (r.frames <= 0) r.frames = r.edit.empty() ? m.frames : int(r.edit.size());
  const int tc = int(vae_.config().temporal_compression());
  check((r.frames - 1) % tc == 0, "generate", r.frames, " frames cannot be made: clips have 1 + ", tc,
        "k frames (the VAE compresses time by ", tc, "); nearest valid: ",
        1 + tc * std::max(0, int(std::lround(double(r.frames - 1) / tc))));
  if (r.steps <= 0) r.steps = m.steps;
  check(r.steps <= 1000, "generate", "--steps ", r.steps, " is out of range (1..1000)");
  if (r.cfg < 0) r.cfg = m.cfg;
  if (r.guidance_from < 0) r.guidance_from = m.guidance_from;
  if (r.cfg_high < 0) r.cfg_high = m.guidance_from > 0 ? m.cfg_high : r.cfg;
  check(r.guidance_from <= 1, "generate", "--guidance-from is a noise level in [0, 1]; got ", r.guidance_from);
  if (r.guidance_parallel < 0) r.guidance_parallel = m.guidance_parallel;
  if (r.guidance_cap < 0) r.guidance_cap = m.guidance_cap;
  if (r.plan_guidance < 0) r.plan_guidance = m.plan_guidance ? 1 : 0;
  check(r.plan_guidance <= 1, "generate", "plan guidance is -1 (the model's), 0 or 1; got ", r.plan_guidance);
  check(std::isfinite(r.guidance_parallel) && r.guidance_parallel <= 1 && std::isfinite(r.guidance_cap), "generate",
        "--cfg-parallel must lie in [0, 1] and --cfg-cap be >= 0; got ", r.guidance_parallel, " and ", r.guidance_cap);
  if (r.shift < 0) r.shift = m.shift;
  if (r.sampler.empty()) r.sampler = m.sampler;
  make_stepper(r.sampler);  // an unknown name is an Error listing the samplers
  check(r.guidance_ramp >= 0, "generate", "--guidance-ramp must be 0 or more latent frames; got ", r.guidance_ramp);
  const int64_t C = vae_.config().z_dim;
  for (const KnownFrame& k : r.known)  // Wan2.2 TI2V conditions on frame 0 alone
    check(!m.replace_first_frame || k.index == 0, "generate", "this model (Wan2.2 TI2V) animates a given first frame ",
          "only; got frame ", k.index, " (give --image, not --last-image or later frames)");
  check(r.known.empty() || m.replace_first_frame || dit_.config().in_dim == 2 * C + tc, "generate",
        "this model has no frame-conditioning ",
        "channels (DiT in_dim ", dit_.config().in_dim, ", needs ", 2 * C + tc, "); image-to-video, extend, ",
        "loop and join need a model trained with frame conditioning");
  for (const KnownFrame& k : r.known) {
    check(k.index >= 0 && k.index < r.frames, "generate", "given frame ", k.index, " is outside the clip (0..",
          r.frames - 1, ")");
    check(k.frame.width == r.width && k.frame.height == r.height, "generate", "given frame ", k.index, " is ",
          k.frame.width, "x", k.frame.height, "; the clip is ", r.width, "x", r.height,
          " (read it with ResizeMode::crop at the clip's size)");
  }
  if (!r.edit.empty()) {
    check(r.strength >= 0 && r.strength <= 1, "edit", "--strength must lie in [0, 1]; got ", r.strength);
    check(int(r.edit.size()) == r.frames, "edit", "the input has ", r.edit.size(), " frames; the clip has ",
          r.frames);
    check(r.known.empty(), "edit", "an edit takes no given frames (SDEdit needs no conditioning)");
    for (const Frame& f : r.edit)
      check(f.width == r.width && f.height == r.height, "edit", "the input is ", f.width, "x", f.height,
            "; the clip is ", r.width, "x", r.height);
  }
  const int64_t have = detail::available_bytes();
  r.vae_tile = decode_tiling(r, have);
  const int64_t need = estimate_bytes(r);
  if (need > have) {
    const int64_t per_frame = std::max<int64_t>(1, need / r.frames);
    const int64_t fit = std::max<int64_t>(1, have / per_frame);
    fail("generate", r.frames, " frames at ", r.width, "x", r.height, " need about ", need >> 20,
         " MiB but only ", have >> 20, " MiB is available; use at most about ", 1 + (fit - 1) / tc * tc,
         " frames (--frames) or a smaller --size");
  }
  return r;
}

int64_t Pipeline::estimate_bytes(const GenerateRequest& r) const {
  const DiTConfig& c = dit_.config();
  const int64_t s = vae_.config().spatial_compression(), tc = vae_.config().temporal_compression();
  const int64_t lt = 1 + (r.frames - 1) / tc, lh = r.height / s, lw = r.width / s;
  const int64_t tokens = lt * (lh / c.patch_size[1]) * (lw / c.patch_size[2]);
  // DiT: the widest live activations (MLP hidden + residual + q/k/v), two CFG branches in turn.
  const int64_t dit = tokens * (c.ffn_dim + 6 * c.dim) * 4 * 2;
  // VAE decode: one latent frame at a time over a tile (the whole frame untiled), about 20
  // buffers of its widest stage (bench_vae_tiled_decode: Wan2.1's VAE peaks at 11.3 GiB over
  // 832x480 in one piece, 2.9 GiB in tiles of 32, weights included); a tile's decoded clip is
  // held (twice, while its chunks are joined) until it is blended into the output.
  const int64_t tile = r.vae_tile.tile > 0 ? r.vae_tile.tile * s : int64_t(1) << 30;
  const int64_t tw = std::min<int64_t>(r.width, tile), th = std::min<int64_t>(r.height, tile);
  const int64_t vae = tw * th * tc * vae_.config().decoder_width() * 20 * 4 + (r.vae_tile.tile > 0 ? tw * th * 3 * r.frames * 8 : 0);
  const int64_t frames = int64_t(r.width) * r.height * 3 * (r.frames * 5);  // f32 clip + RGB frames
  return dit + vae + frames + (int64_t(256) << 20);  // + weights and workspace
}

DecodeTiling Pipeline::decode_tiling(const GenerateRequest& r, int64_t available) const {
  DecodeTiling t = r.vae_tile;
  check(t.tile >= DecodeTiling::kAuto, "generate", "VAE tile ", t.tile,
        " is negative; expected 0 (one piece), a tile side in latent pixels, or auto");
  check(t.overlap >= 0, "generate", "VAE tile overlap ", t.overlap, " is negative; expected >= 0 latent pixels");
  check(t.tile <= 0 || t.tile > t.overlap, "generate", "VAE tile ", t.tile, " must be larger than its overlap ",
        t.overlap, " (neighbouring tiles share the overlap); use a tile of at least ", t.overlap + 1,
        " or a smaller overlap");
  if (t.tile != DecodeTiling::kAuto) return t;
  GenerateRequest whole = r;
  whole.vae_tile = {0, t.overlap};
  t.tile = estimate_bytes(whole) <= available ? 0 : 32;  // Wan's 256-pixel tiles
  t.overlap = std::min<int64_t>(t.overlap, 31);
  return t;
}

ScheduleOptions detail::sampling_schedule(const ModelManifest& m, const GenerateRequest& r, double shift) {
  ScheduleOptions s;
  s.steps = r.steps, s.shift = shift;
  s.sigma_max = m.wan_schedule && r.sampler != "dpm++" ? kWanSigmaMax : 1.0;
  s.timesteps = m.wan_schedule ? TimestepMode::wan_truncated : TimestepMode::exact;
  return s;
}

TensorFile detail::dit_weights(TensorFile file, const PipelineLoadOptions& options) {
  if (!options.dit_type) return file;
  return convert_weights(std::move(file), *options.dit_type);
}

namespace {
// Wan's context: the caption's tokens, then zeros up to text_len, all of them attended.
Tensor pad_text(const Tensor& context, int64_t len) {
  const int64_t L = context.size(0);
  return L >= len ? context : concat({context, Tensor::zeros({len - L, context.size(1)})}, 0);
}

// Under sequence parallelism rank 0 encodes the text and every rank receives it.
Tensor encoded_once(Communicator* ranks, const std::function<Tensor()>& encode) {
  if (!ranks || ranks->size() == 1) return encode();
  Tensor t = ranks->is_root() ? contiguous(encode()) : Tensor();
  int64_t shape[2] = {t.defined() ? t.size(0) : 0, t.defined() ? t.size(1) : 0};
  ranks->broadcast(shape, sizeof shape, 0);
  std::vector<float> v = ranks->is_root() ? t.to_vector() : std::vector<float>(size_t(shape[0] * shape[1]));
  ranks->broadcast(v.data(), int64_t(v.size() * sizeof(float)), 0);
  return Tensor::from_vector(v, {shape[0], shape[1]});
}
// The expansion's scene moved onto the known frames (world::align_plan), with a note saying so.
world::Scene aligned_plan(const world::Scene& plan, const std::vector<KnownFrame>& known,
                          std::vector<std::string>& notes) {
  std::vector<std::pair<int, world::Image>> given;
  for (const KnownFrame& k : known) given.push_back({k.index, world::Image{k.frame.width, k.frame.height, k.frame.rgb}});
  const world::AlignedPlan a = world::align_plan(plan, given);
  notes.push_back("plan aligned with given frame " + std::to_string(a.anchor) + ": " + std::to_string(a.matched) +
                  " of its objects placed where the frame shows them, " + std::to_string(a.added) +
                  " seen there added");
  return a.scene;
}
}  // namespace

GenerateResult Pipeline::generate(const GenerateRequest& request,
                                  const std::function<void(const GenerateProgress&)>& progress) const {
  if (!request.reference.empty()) return detail::generate_with_reference(*this, request, progress);
  const GenerateRequest r = resolve(request);
  Context ctx(ContextOptions{r.threads});
  ContextScope scope(ctx);
  NoGradGuard no_grad;
  GenerateResult out;
  out.fps = r.fps, out.steps = r.steps, out.cfg = r.cfg, out.sampler = r.sampler;

  auto t0 = Clock::now();
  out.caption = r.prompt;
  if (r.expand && manifest_.world_prompts) {
    world::Expansion e = world::expand(r.prompt, r.seed, world::SampleOptions{r.width, r.height, r.fps, r.frames});
    if (e.understood) out.caption = e.caption, out.scene = e.scene, out.expanded = true;
    for (const auto& s : e.mapped) out.notes.push_back("read " + s);
    for (const auto& s : e.not_understood) out.notes.push_back("not understood: " + s);
    if (!e.understood) out.notes.push_back("no object recognised; the prompt is used as written");
  }
  const int64_t max_len = manifest_.max_text_len;
  Tensor cond = encoded_once(r.sequence_parallel, [&] { return encode_caption(tokenizer_, encoder_, out.caption, max_len); });
  Tensor uncond = encoded_once(r.sequence_parallel, [&] { return encode_caption(tokenizer_, encoder_, r.negative, max_len); });
  // The text encoder is done for this request: its mapped pages (umT5-XXL's 11 GB) stop
  // counting against the sampler and decoder; the page cache keeps them for the next request.
  for (const auto& [name, w] : encoder_.weights()) release_mapped_pages(w);
  if (manifest_.pad_text) cond = pad_text(cond, max_len), uncond = pad_text(uncond, max_len);
  const int64_t Lc = cond.shape()[0], Lu = uncond.shape()[0], D = cond.shape()[1];
  cond = reshape(cond, {1, Lc, D}), uncond = reshape(uncond, {1, Lu, D});
  out.seconds.text = since(t0);

  const DiTConfig& c = dit_.config();
  const int64_t s = vae_.config().spatial_compression(), tc = vae_.config().temporal_compression();
  const Shape latent = {1, c.out_dim, 1 + (r.frames - 1) / tc, r.height / s, r.width / s};
  const int64_t tokens = latent[2] * (latent[3] / c.patch_size[1]) * (latent[4] / c.patch_size[2]);
  out.shift = r.shift > 0 ? r.shift : resolution_shift(tokens, manifest_.base_tokens);
  out.peak_latent_frames = latent[2];
  // Noise from the trainer's PCG generator: the same bits on every platform and library.
  TrainRng rng(r.seed, 0x6e6f697365ULL + r.noise_stream);
  std::vector<float> noise(size_t(shape_numel(latent)));
  for (float& v : noise) v = rng.normal();
  DiTForwardOptions fo;
  fo.sequence_parallel = r.sequence_parallel;
  if (c.in_dim > c.out_dim)  // frame conditioning slot: [mask | known], zeros when nothing is given
    fo.condition = r.known.empty() ? no_frame_condition(c, latent) : condition_tensor(r.known, r.frames, r.width, r.height);
  if (c.image_dim > 0) fo.image_context = image_context(r.known, r.frames);  // Wan I2V/FLF2V
  // The plan: a grounded DiT draws the expanded prompt's objects where its scene puts them. Both
  // CFG branches see it (guidance steers the text, as with known frames) unless plan guidance is
  // on (below). With known frames (image-to-video, extend, join, chunks) it is first moved onto
  // what they show; an edit's input is to be changed, not followed, so it is drawn without one.
  if (c.layout_channels > 0 && r.layout && out.expanded) {
    if (!r.edit.empty()) {
      out.notes.push_back("editing: drawn from the input and the caption, without the plan");
    } else {
      const world::Scene plan = r.known.empty() ? out.scene : aligned_plan(out.scene, r.known, out.notes);
      const int64_t k = c.layout_channels == world::kSilhouetteLayoutChannels ? c.layout_channels : world::kLayoutChannels;
      const Tensor layout = world::scene_layout(plan, s, tc, k);  // [K, T, H, W]
      const Shape& ls = layout.shape();
      if (ls[0] == c.layout_channels && ls[1] == latent[2] && ls[2] == latent[3] && ls[3] == latent[4])
        fo.layout = reshape(layout, {1, ls[0], ls[1], ls[2], ls[3]}), out.planned = true;
      else
        out.notes.push_back("the plan's layout " + shape_str(ls) + " does not fit this model or latent; text alone");
    }
  }
  const bool given_first = std::any_of(r.known.begin(), r.known.end(), [](const KnownFrame& k) { return k.index == 0; });
  check(c.image_dim > 0 || !manifest_.keep_grey_latents || given_first, "generate",
        "this Wan I2V model animates a given image: give --image (the first frame)");
  // Wan2.2 TI2V: the given first frame's latent [1, C, 1, h, w], put in place before every call
  // (resolve() admits frame 0 alone).
  const Tensor first = manifest_.replace_first_frame && given_first ? encode_frames({r.known.front().frame}) : Tensor();
  // Both CFG branches see the same frames (and image): guidance steers the text. With plan
  // guidance the unconditional branch is drawn without the plan as well.
  DiTForwardOptions fo_uncond = fo;
  if (r.plan_guidance == 1) fo_uncond.layout = Tensor();
  const float high_from = manifest_.boundary * 1000.f;  // Wan2.2 A14B: which expert
  ModelFn model = [&](const Tensor& x, const ModelCall& call) {
    const DiT& expert = high_noise_ && call.timestep >= high_from ? *high_noise_ : dit_;
    const DiTForwardOptions& o = call.conditional ? fo : fo_uncond;
    if (first.defined())  // its tokens are clean: timestep 0
      return expert.forward(detail::replace_first_latent(x, first),
                            detail::first_frame_timesteps(call.timestep, x.shape(), c), call.conditional ? cond : uncond, o);
    return expert.forward(x, Tensor::from_vector({call.timestep}, {1}), call.conditional ? cond : uncond, o);
  };
  t0 = Clock::now();
  SampleOptions so;
  so.sampler = r.sampler;
  so.guidance.cfg = r.cfg, so.guidance.rescale = r.rescale;
  so.guidance.projected = {r.guidance_parallel, r.guidance_cap};
  if (r.guidance_from > 0) so.guidance.cfg_high = r.cfg_high, so.guidance.high_from = r.guidance_from * 1000.f;
  if (r.guidance_ramp > 1 && !r.known.empty() && fo.condition.defined())
    so.guidance.frame_share =
        guidance_ramp_shares(detail::known_latent_frames(fo.condition, c.in_dim - 2 * c.out_dim), r.guidance_ramp);
  if (progress)
    so.progress = [&](const SampleProgress& p) { progress({p.step, p.steps, since(t0), p.sigma, p.denoised}); };
  so.checkpoint = r.checkpoint, so.resume = r.resume.get();
  Tensor z;
  if (!r.edit.empty()) {  // SDEdit: start from the input's latent at sigma = strength
    const Tensor x0 = encode_frames(r.edit);
    if (r.strength <= 0) {
      z = x0;  // nothing to denoise: the input's own decode
    } else {
      const Schedule sched = detail::edit_schedule(r.steps, out.shift, r.strength);
      const float s0 = sched.sigmas[0];
      const std::vector<float> a = x0.to_vector();
      for (size_t i = 0; i < noise.size(); ++i) noise[i] = (1.f - s0) * a[i] + s0 * noise[i];
      z = sample(model, Tensor::from_vector(noise, latent), sched, so);
    }
  } else {
    z = sample(model, Tensor::from_vector(noise, latent), flow_schedule(detail::sampling_schedule(manifest_, r, out.shift)), so);
    if (first.defined()) z = detail::replace_first_latent(z, first);
    else if (r.paste_known && !r.known.empty()) z = detail::paste_known(z, fo.condition, c.in_dim - 2 * c.out_dim);
  }
  out.seconds.sampling = since(t0);

  t0 = Clock::now();
  // Causal chunks, one latent frame at a time; under sequence parallelism the ranks take turns.
  if (r.sequence_parallel && r.sequence_parallel->size() > 1) {
    NoGradGuard no_grad;
    out.frames = detail::video_to_frames(vae_.decode_across(vae_.denormalize(z), *r.sequence_parallel));
  } else {
    out.frames = decode_frames(z, r.vae_tile);
    out.vae_tile = r.vae_tile.tile;
  }
  out.seconds.decode = since(t0);
  if (r.keep_latent) out.latent = z;
  return out;
}

}  // namespace kinema
