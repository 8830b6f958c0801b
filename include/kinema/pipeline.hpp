// Text (and frames) to video: a model bundle (tokenizer, text encoder, VAE, DiT and the
// settings they were trained with) and the generation path around it:
//   prompt -> [world::expand into a detailed caption] -> tokens -> text encoder -> context
//   noise (seeded) -> sampler (schedule + CFG denoiser + stepper) over the DiT -> latent
//   latent -> VAE decode (causal chunks) -> RGB frames
// Same request and seed -> bit-identical frames. Errors are kinema::Error with what to do.
// Frames can be given (image-to-video, extension, joins, loops: the frame-conditioning slot of
// docs/conditioning.md) and a clip can start from an input video's latent (SDEdit editing);
// kinema/modes.hpp builds extend, join, loop and long videos on these (docs/modes.md).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kinema/clip_vision.hpp"
#include "kinema/dit.hpp"
#include "kinema/media.hpp"
#include "kinema/sampler.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/text_encoder.hpp"
#include "kinema/tokenizer.hpp"
#include "kinema/vae.hpp"
#include "kinema/world.hpp"

namespace kinema {

class Communicator;

// The bundle's manifest (DIR/model.json): files with their SHA-256 and the defaults.
struct ModelManifest {
  std::string name;
  struct File { std::string path, sha256; };
  File tokenizer, text_encoder, vae, dit;
  std::vector<std::pair<int, int>> sizes;  // (width, height) the model was trained at
  int fps = 12, frames = 25;               // default clip
  int steps = 30;
  float cfg = 5.f, shift = 0.f;            // shift 0: sqrt(tokens / base_tokens), as in training
  int64_t base_tokens = 256;
  std::string sampler = "unipc";
  int64_t max_text_len = 256;
  // Wan's text path: the encoded caption is zero-padded to max_text_len tokens and the DiT
  // attends to all of them (kinema's own models attend to the caption's tokens only).
  bool pad_text = false;
  // Prompts are expanded into the procedural world's caption style (kinema's own models, which
  // were trained on those captions); other models take the prompt as written.
  bool world_prompts = true;
  // Wan I2V/FLF2V's conditioning: the latents of the grey frames around the given ones stay in
  // the condition (kinema's own models are trained with zeros there).
  bool keep_grey_latents = false;
  // Wan's sampling schedule (kinema/sampler.hpp): the first sigma float32(0.999) (1 with dpm++, as
  // Wan's get_sampling_sigmas) and timesteps int64(1000·sigma), what Wan's DiT was run with.
  // kinema's own models: sigma 1 and exact 1000·sigma, what their trainer feeds.
  bool wan_schedule = false;
  // Wan2.2 A14B: a high-noise expert samples while the timestep is >= boundary x 1000 (guided by
  // cfg_high), then the low-noise expert (the DiT, guided by cfg). 0: one DiT.
  float boundary = 0.f, cfg_high = 0.f;
  // Guidance interval: from noise level guidance_from (timesteps >= 1000 x guidance_from) the
  // scale is cfg_high instead of cfg. Wan2.2 A14B: guidance_from = boundary, its high-noise
  // expert's scale. kinema's own models: strong guidance at the highest noise levels pushes
  // every position towards the caption's average colours (docs/sampling.md). 0: cfg throughout.
  float guidance_from = 0.f;
  // Projected guidance (ProjectedGuidance, kinema/sampler.hpp): the share of the guidance step
  // kept along the conditional x0 estimate (1: plain CFG) and the cap on its RMS per latent frame
  // (0: none). Strong plain CFG overshoots in the first steps (docs/sampling.md).
  float guidance_parallel = 1.f, guidance_cap = 0.f;
  // Wan2.2 TI2V: a given first frame conditions by replacement, not by channels: its latent is
  // latent frame 0 on every DiT call, whose tokens see timestep 0 (textimage2video.py).
  bool replace_first_frame = false;
  // A grounded DiT's unconditional branch is also drawn without the plan, so guidance pushes
  // towards the plan as well as the caption (docs/generate.md, "plan guidance").
  bool plan_guidance = false;
};

ModelManifest read_manifest(const std::string& path);
std::string manifest_json(const ModelManifest& m);
// SHA-256 of a file as 64 hex digits.
std::string sha256_file(const std::string& path);

// Writes a bundle: DIR/tokenizer.model, text_encoder.safetensors, vae.safetensors,
// dit.safetensors and model.json with their SHA-256 (m's file entries are filled in here).
void write_model_bundle(const std::string& dir, ModelManifest m, const std::string& tokenizer_bytes,
                        const TensorFile& text_encoder, const TensorFile& vae, const TensorFile& dit);

// Text -> per-token embeddings [L, dim] (and L): the one path training and generation share.
Tensor encode_caption(const Tokenizer& tokenizer, const TextEncoder& encoder, const std::string& text,
                      int64_t max_len);

// A video frame given to the model at a frame index of the clip to generate.
struct KnownFrame {
  int index = 0;  // 0 .. frames - 1
  Frame frame;    // the request's width x height
};

// How generation decodes the latent (VAE::decode_tiled), in latent pixels (x the VAE's spatial
// compression in output pixels). Time is always decoded one latent frame at a time (the causal
// schedule), so with tiles the decode's working memory is bounded by the tile, not the frame
// size or the clip length; what grows with the clip is only the decoded video itself.
struct DecodeTiling {
  static constexpr int64_t kAuto = -1;
  // kAuto: one piece when the whole-frame decode fits in the memory available, else tiles of
  // 32 (Wan's 256 output pixels); 0: one piece; N > overlap: tiles of N x N latent pixels.
  int64_t tile = kAuto;
  int64_t overlap = 8;  // latent pixels neighbouring tiles share and blend across (< tile)
};

struct GenerateRequest {
  std::string prompt;
  std::string negative;        // the unconditional branch of CFG ("" = the empty caption)
  int width = 0, height = 0;   // 0: the model's first trained size
  int frames = 0;              // 0: the model's default; 1 = text-to-image; else 1 + 4k
  int fps = 0;                 // 0: the model's
  int steps = 0;               // 0: the model's
  float cfg = -1, shift = -1;  // < 0: the model's
  float rescale = 0;           // guidance rescale phi
  // Guidance interval (ModelManifest::guidance_from): cfg_high guides from noise level
  // guidance_from on. < 0: the model's; guidance_from 0: cfg throughout.
  float cfg_high = -1, guidance_from = -1;
  // Projected guidance (ModelManifest::guidance_parallel, guidance_cap). < 0: the model's.
  float guidance_parallel = -1, guidance_cap = -1;
  std::string sampler;         // "": the model's
  uint64_t seed = 0;
  bool expand = true;          // expand the prompt into the world's detailed caption style
  // A DiT with a layout path (DiTConfig::layout_channels) is given the expanded prompt's plan
  // (world::scene_layout of the scene the expansion made); false, or a prompt the expansion did
  // not understand: text alone.
  bool layout = true;
  // With a plan: the unconditional branch without it too (1), or both branches with it (0);
  // -1: the model's (ModelManifest::plan_guidance).
  int plan_guidance = -1;
  int threads = 0;             // 0: the current context's
  // Frame conditioning (docs/modes.md): frames given at clip indices; empty = text-to-video.
  std::vector<KnownFrame> known;
  // After sampling, replace every latent frame whose 4 mask channels are all 1 by the known
  // latent, so the given frames decode exactly as their encoding does.
  bool paste_known = true;
  // Latent frames over which guidance rises from none at a given frame to the full cfg
  // (GuidanceOptions::frame_share, guidance_ramp_shares): a frame next to given ones follows
  // them rather than being pulled to the caption's typical picture. 0 or 1: cfg everywhere.
  int guidance_ramp = 0;
  // Reference frames in front (a character's reference, a storyboard's first shot; 1 + 4a of
  // the request's size): the clip is sampled with them given before frame 0, their last frame
  // held for 3 more frames so the clip's own latent frames keep their alignment, and their
  // outputs are dropped (docs/modes.md). Costs a + 1 latent frames of tokens.
  std::vector<Frame> reference;
  // SDEdit: when non-empty (`frames` frames of the request's size), sampling starts from these
  // frames' latent noised to sigma = strength instead of pure noise, with no conditioning.
  std::vector<Frame> edit;
  float strength = 0.6f;       // in [0, 1]: 0 returns the input's decode, 1 ignores the input
  uint32_t noise_stream = 0;   // which noise of the seed (long videos: the chunk index)
  bool keep_latent = false;    // return the sampled (normalized) latent in GenerateResult
  // Resumable sampling (kinema serve): called after every sampling step but the last with the
  // sampler's state; with `resume` set, sampling goes on from that state instead of from noise,
  // and the result is the bits an uninterrupted run of the same request gives. One clip only:
  // the modes (kinema/modes.hpp) sample several clips from one base request and take neither.
  std::function<void(const SampleCheckpoint&)> checkpoint;
  std::shared_ptr<const SampleCheckpoint> resume;
  // Sequence-parallel generation (`mpirun -np N kinema generate`): every rank calls generate
  // with the same request; rank 0 encodes the text, each DiT forward is split by tokens
  // (DiTForwardOptions::sequence_parallel) and every rank returns the same frames.
  Communicator* sequence_parallel = nullptr;
  // VAE decode tiling (not under sequence parallelism, which splits the decode by time).
  DecodeTiling vae_tile;
};

struct GenerateTimings { double text = 0, sampling = 0, decode = 0; };

struct GenerateResult {
  std::vector<Frame> frames;
  int fps = 12;
  std::string caption;               // what the text encoder saw
  std::vector<std::string> notes;    // expansion notes (mapped words, words not understood)
  bool expanded = false;             // the prompt was understood and expanded into scene
  bool planned = false;              // the DiT was given scene's layout
  world::Scene scene;                // what the caption describes (the world judge's reference)
  GenerateTimings seconds;
  int steps = 0;
  float cfg = 0, shift = 0;
  std::string sampler;
  Tensor latent;                     // [1, C, T', h, w] when keep_latent
  int64_t peak_latent_frames = 0;    // latent frames live at once (the sampled clip's T')
  int64_t vae_tile = 0;              // latent tile side the decode used (0: one piece)
};

struct GenerateProgress {
  int step = 0, steps = 0;
  double elapsed = 0;
  float sigma = 0;                   // the noise level the step started from
  const Tensor* denoised = nullptr;  // the step's x0 estimate, a normalized latent (decode_frames)
};

struct PipelineLoadOptions {
  // The DiT's matrices converted on load (kinema/weights.hpp convert_weights): bf16, f16, q8_0 or
  // q4_0 (linear dequantizes q8_0/q4_0 on the fly); f32 and the other tensors stay f32. Unset:
  // as stored.
  std::optional<DType> dit_type;
};

class Pipeline {
 public:
  // Loads DIR/model.json and the files it names, checking each SHA-256; a missing or altered
  // file is an Error naming it and what to do.
  // A directory laid out as Wan2.1's releases are (docs/wan.md) also loads: see load_wan.
  static Pipeline load(const std::string& dir, const PipelineLoadOptions& options = {});
  // Wan2.1 as released (Wan-AI/Wan2.1-T2V-1.3B/-14B, -I2V-14B-480P/720P, -FLF2V-14B-720P):
  // config.json, the DiT in diffusion_pytorch_model*.safetensors (sharded or not; original or
  // ComfyUI key names; or one .gguf), Wan2.1_VAE.pth, models_t5_umt5-xxl-enc-bf16.pth,
  // google/umt5-xxl/spiece.model and, for I2V/FLF2V,
  // models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth. Wan2.2 too: T2V-A14B and I2V-A14B
  // (high_noise_model/ and low_noise_model/, no CLIP) and TI2V-5B (Wan2.2_VAE.pth).
  // Each missing piece is an Error naming the file expected.
  static Pipeline load_wan(const std::string& dir, const PipelineLoadOptions& options = {});
  // A pipeline over models already in memory (e.g. a training run's current weights, for its
  // sample videos); dir() is "". Error when the models do not fit together or m.sizes is empty.
  static Pipeline from_models(ModelManifest m, Tokenizer tokenizer, TextEncoder encoder, VAE vae, DiT dit);
  const ModelManifest& manifest() const { return manifest_; }
  const std::string& dir() const { return dir_; }
  std::string model_digest() const { return manifest_.dit.sha256; }

  // Fills the request's defaults and checks it (size a multiple of the patch grid, frames
  // 1 + 4k, VAE tiling, memory); throws Error saying the nearest valid value. The resolved
  // request's vae_tile is never kAuto.
  GenerateRequest resolve(const GenerateRequest& request) const;
  // Bytes the request needs at peak (latents, DiT activations, VAE decode of one chunk at its
  // vae_tile, the decoded clip).
  int64_t estimate_bytes(const GenerateRequest& resolved) const;
  // The request's vae_tile with kAuto decided: one piece when estimate_bytes of the untiled
  // decode is at most `available` bytes, else tiles of 32. Error for a negative tile or overlap
  // or a tile not larger than its overlap.
  DecodeTiling decode_tiling(const GenerateRequest& request, int64_t available) const;
  GenerateResult generate(const GenerateRequest& request,
                          const std::function<void(const GenerateProgress&)>& progress = {}) const;

  // Frames (each the same size, 1 + 4k of them) -> normalized latent [1, C, T', h, w].
  Tensor encode_frames(const std::vector<Frame>& frames) const;
  // Normalized latent [1, C, T', h, w] -> RGB frames (VAE decode in causal chunks, in one piece
  // or in spatial tiles; kAuto decides by the memory available now).
  std::vector<Frame> decode_frames(const Tensor& latent, const DecodeTiling& tiling = {0, 8}) const;
  // The frame-conditioning tensor [1, K + C, T', h, w] of a clip of `frames` frames of
  // width x height given `known` (docs/conditioning.md): K = 4 mask channels from
  // condition_mask(), then the normalized latent of the clip with the known frames in place and
  // zeros (mid grey) elsewhere, zeroed at latent frames where no frame is given.
  Tensor condition_tensor(const std::vector<KnownFrame>& known, int frames, int width, int height) const;

  const VAE& vae() const { return vae_; }
  const DiT& dit() const { return dit_; }
  const TextEncoder& text_encoder() const { return encoder_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  // Wan I2V/FLF2V: the CLIP features of the given first (and last) frame [1, 257 x n, 1280],
  // preprocessed as Wan's CLIPModel.visual does (bicubic to 224, CLIP normalisation).
  Tensor image_context(const std::vector<KnownFrame>& known, int frames) const;

 private:
  Pipeline(std::string dir, ModelManifest m, Tokenizer t, TextEncoder e, VAE v, DiT d);
  std::string dir_;
  ModelManifest manifest_;
  Tokenizer tokenizer_;
  TextEncoder encoder_;
  VAE vae_;
  DiT dit_;
  std::shared_ptr<const ClipVision> clip_;  // Wan I2V/FLF2V only
  std::shared_ptr<const DiT> high_noise_;   // Wan2.2 A14B's high-noise expert
};

// The mask channels [K, T'] (K = temporal_compression, row-major) for the given video frame
// indices of a clip of `frames` = 1 + K(T' - 1) frames, Wan I2V's layout: latent frame 0 covers
// video frame 0 alone, so all K of its channels are 1 when frame 0 is given; for latent frame
// j > 0, channel i is 1 when video frame K(j - 1) + 1 + i is given.
std::vector<float> condition_mask(const std::vector<int>& given, int frames, int temporal_compression);

// A contact sheet: up to `count` frames spread evenly over the clip, in one row.
Frame contact_sheet(const std::vector<Frame>& frames, int count = 8);
// Rows (e.g. contact sheets of several clips) stacked top to bottom on white, 2 pixels apart;
// narrower rows are left-aligned.
Frame stack_rows(const std::vector<Frame>& rows);

}  // namespace kinema
