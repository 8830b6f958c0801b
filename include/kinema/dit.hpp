// The diffusion transformer (DiT) of the Sora recipe, shaped like Wan2.1's WanModel so the same
// code trains kinema's own small model and runs Wan checkpoints.
//
// A latent video x [B, C, T, H, W] is cut into 1x2x2 spacetime patches (a Conv3d whose stride
// equals its kernel), giving T/pt * H/ph * W/pw tokens of width dim. Each block runs
//   self-attention (RMSNorm on q and k, 3D RoPE over the (t, h, w) patch grid)
//   cross-attention to the text tokens
//   a GELU(tanh) MLP
// with adaLN modulation from the timestep: sinusoidal embedding -> MLP -> 6 x dim shifts, scales
// and gates per block. A modulated head projects tokens back to patches; unpatchify restores
// [B, C_out, T, H, W]. The network predicts the flow-matching velocity.
//
// Weights live in one name -> Tensor map whose keys are Wan's checkpoint keys
// (dit_parameter_shapes() lists them), and the config is inferred from those names and shapes.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kinema/tensor.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {

class Communicator;

// Defaults are Wan2.1 T2V-1.3B.
struct DiTConfig {
  int64_t dim = 1536;       // token width
  int64_t ffn_dim = 8960;   // MLP hidden width
  int64_t freq_dim = 256;   // sinusoidal timestep embedding width
  int64_t text_dim = 4096;  // width of the text encoder's tokens
  int64_t num_heads = 12;   // not visible in shapes: read from metadata "num_heads" or dim / 128
  int64_t num_layers = 30;
  // Channels into patch_embedding. in_dim > out_dim means frame conditioning: the extra
  // channels come from DiTForwardOptions::condition (Wan I2V: 36 = 16 noise + 4 mask + 16 image).
  int64_t in_dim = 16;
  int64_t out_dim = 16;
  std::array<int64_t, 3> patch_size{1, 2, 2};  // (t, h, w)
  bool qk_norm = true;          // blocks.N.*_attn.norm_q / norm_k present
  bool cross_attn_norm = true;  // blocks.N.norm3 (affine LayerNorm before cross-attention) present
  // Wan I2V / FLF2V: CLIP image tokens (width image_dim, 1280 for ViT-H/14) projected by img_emb
  // and attended by every block's cross-attention beside the text (k_img, v_img). 0: none (T2V).
  int64_t image_dim = 0;
  int64_t image_tokens = 0;  // FLF2V: img_emb.emb_pos [1, image_tokens, image_dim] (514); 0: none
  // kinema's own addition, not in Wan: the caption's mean token (of text_embedding's output,
  // padding masked) through text_pool (Linear dim -> dim, zero at init) is added to the time
  // embedding, so the caption's global facts (background, camera, colours) modulate every
  // block directly, as SD3 adds its pooled text vector. Present when text_pool.* is.
  bool pooled_text = false;
  // kinema's own addition, not in Wan: each token's place in the frame, as Fourier features of
  // its normalised (x, y) in [-1, 1] (kDiTPositionFeatures of them) through pos_embedding
  // (Linear, zero at init), added to the tokens after patch_embedding. Wan's 3D RoPE gives
  // attention only relative offsets: without this a token cannot tell the top left from the
  // centre, so "at the top left of the frame" cannot be followed. Normalised coordinates mean
  // the same place at every size and aspect ratio. Present when pos_embedding.* is.
  bool absolute_position = false;
  // kinema's own addition, not in Wan: a layout map (DiTForwardOptions::layout, e.g. the world's
  // object_layout: where each planned object is, its colour, shape and place within it) cut into
  // the same patches and embedded by layout_embedding (Conv3d like patch_embedding, zero at init),
  // added to the tokens. Grounded generation as GLIGEN / LLM-grounded video diffusion do it, but
  // as a dense map: each token is told what it should show. 0: none. Present when
  // layout_embedding.* is; its input channels are this count.
  int64_t layout_channels = 0;
  float eps = 1e-6f;
  float rope_theta = 10000.f;

  int64_t head_dim() const { return dim / num_heads; }
  int64_t patch_volume() const { return patch_size[0] * patch_size[1] * patch_size[2]; }
  void validate() const;  // throws Error naming the inconsistent field
};

inline constexpr int64_t kDiTPositionFeatures = 16;  // sin, cos of pi k x and pi k y, k = 1..4

// Every parameter of a config, in checkpoint order: (Wan checkpoint key, shape).
std::vector<std::pair<std::string, Shape>> dit_parameter_shapes(const DiTConfig& config);
// Adds, at zero, every tensor `config` lists that `weights` lacks: a warm start that grows the
// pooled-text or position path (both start at zero) computes what the smaller model did.
void add_missing_at_zero(std::map<std::string, Tensor>& weights, const DiTConfig& config);

// Carries DiT weights to a smaller patch (each new side divides the old): patch_embedding's taps
// summed and head rows averaged over the coarse sub-positions each new one stands for, so a
// latent constant over each coarse patch embeds and decodes as before; the body is kept.
// A warm start with more tokens per object (`kinema train dit --init F --patch 1x1x1`).
void repatch_dit(TensorFile& dit, const std::array<int64_t, 3>& patch);

// The recognizer: does this tensor set look like a Wan-style DiT (patch_embedding, blocks,
// head)? Loaders ask it before infer_dit_config, which then explains what is missing.
bool is_dit_checkpoint(const std::map<std::string, Tensor>& tensors);

// Infers the config from checkpoint keys and shapes; throws Error naming the missing or
// mismatched key. metadata may carry "num_heads" (kinema writes it; Wan's head_dim is 128).
DiTConfig infer_dit_config(const std::map<std::string, Tensor>& tensors,
                           const std::map<std::string, std::string>& metadata = {});

enum class DiTInit {
  wan,     // Wan's init_weights: xavier linears, zero biases, N(0, 0.02) embeddings, zero head
  random,  // every tensor (norm weights and head included) random: for tests that need a
           // non-trivial function everywhere
};

struct DiTLoadOptions {
  // true: weights become f32 leaves with requires_grad (training, fine-tuning);
  // false: kept in the file's dtype (f32, bf16, f16, q8_0, q4_0) for inference.
  bool trainable = false;
};

enum class DiTCheckpointing {
  none,    // keep every activation for backward
  blocks,  // keep only each block's input and recompute the block during backward
};

struct DiTForwardOptions {
  // Matmul dtype: f32, or bf16 (activations and f32 weights are cast to bf16 for every linear;
  // the residual stream, norms, modulation and attention stay f32, as in Wan's autocast).
  DType compute = DType::f32;
  // Frame conditioning: [B, in_dim - C, T, H, W], concatenated after x's C channels before
  // patch_embedding (Wan I2V's `y`: 4 mask channels then 16 channels of known-frame latents;
  // kinema's image-to-video / extend / loop use the same slot for known latent frames + mask).
  // Required exactly when in_dim > C.
  Tensor condition;
  // Layout map [B, layout_channels, T, H, W] (config.layout_channels > 0); undefined = no plan,
  // embedded as all zeros (training drops layouts at random so that means "unplanned").
  Tensor layout;
  // Valid text tokens per sample (keys past it are masked out of cross-attention); empty =
  // attend to all L tokens, as Wan2.1 does with its zero-padded 512-token context.
  std::vector<int64_t> context_lens;
  // Image context (config.image_dim > 0, Wan I2V/FLF2V): CLIP features [B, Li, image_dim], the
  // penultimate-layer tokens of the given image (two images' for FLF2V, Li = image_tokens).
  Tensor image_context;
  // When set, forward stores named intermediates here: "patch_embedding" [B, N, D],
  // "time_embedding" [B, D], "time_projection" [B, 6, D], "text_embedding" [B, L, D],
  // "blocks.N" [B, N, D], "head" [B, N, C_out*pt*ph*pw]. For parity tests and debugging.
  std::map<std::string, Tensor>* trace = nullptr;
  // Gradient checkpointing for training (activation memory of one block instead of all).
  // The model must outlive backward().
  DiTCheckpointing checkpointing = DiTCheckpointing::none;
  // Sequence parallelism (inference): with more than one rank, each rank computes the blocks
  // for its share of the tokens and attention trades shares by all-to-all (Ulysses); every
  // rank must call forward with the same inputs and gets the whole output. num_heads must
  // divide among the ranks.
  Communicator* sequence_parallel = nullptr;
};

// The frame-conditioning slot's value when no frame is given: zeros [1, in_dim - out_dim, T, H,
// W] for a latent [1, C, T, H, W]; undefined when the DiT has no slot (in_dim == out_dim).
// Generation, validation and the text-use probe all use it, so "nothing given" means the same.
Tensor no_frame_condition(const DiTConfig& c, const Shape& latent);

class DiT {
 public:
  // f32 leaves with requires_grad, deterministic in seed.
  static DiT init_random(const DiTConfig& config, uint64_t seed, DiTInit init = DiTInit::wan);
  // Validates every key and shape against the inferred config; unexpected keys are errors too
  // (an I2V checkpoint's image cross-attention is recognised and refused by name).
  static DiT from_tensors(const TensorFile& file, const DiTLoadOptions& options = {});
  TensorFile to_tensors() const;  // the weights plus metadata {"num_heads", "model": "kinema.dit"}

  const DiTConfig& config() const { return config_; }
  const std::map<std::string, Tensor>& weights() const { return weights_; }
  std::vector<Tensor> parameters() const;  // in dit_parameter_shapes() order

  // x [B, C, T, H, W] noisy latent, t [B] timesteps (0..1000 as in Wan), context [B, L, text_dim]
  // -> velocity [B, out_dim, T, H, W] (f32). T, H, W must be divisible by the patch size.
  // t may also be per token, [B, N] with N = the patch grid's T'·H'·W' in (t, h, w) order, as
  // Wan2.2's WanModel takes it (TI2V holds the given first frame's tokens at t = 0); the
  // modulation is then computed per token, and "time_embedding" / "time_projection" trace as
  // [B, N, D] / [B, N, 6, D]. A [B, N] of equal values gives what [B] gives.
  Tensor forward(const Tensor& x, const Tensor& t, const Tensor& context,
                 const DiTForwardOptions& options = {}) const;

  const Tensor& weight(const std::string& name) const;  // throws Error naming a missing key

 private:
  DiTConfig config_;
  std::map<std::string, Tensor> weights_;
};

}  // namespace kinema
