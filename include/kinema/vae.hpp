// The causal 3D video VAE of the Sora recipe, shaped like Wan2.1's VAE (`WanVAE_` in
// wan/modules/vae.py) so the same code trains kinema's own small VAE and runs Wan's checkpoint.
//
// encode: video [B, 3, T, H, W] in [-1, 1] -> (mu, logvar) [B, z_dim, 1 + (T-1)/4, H/8, W/8]
// decode: z [B, z_dim, T', H', W'] -> video [B, 3, 1 + 4(T'-1), 8H', 8W']
// (×4 in time and ×8 in space for Wan's 4-stage config; in general ×2 per downsampling stage in
// space and ×2 per stage marked in temporal_downsample in time).
//
// Every time convolution is causal (time padding in front only), so the first frame is encoded
// alone and an image is a one-frame video. Each stage is a run of residual blocks (RMS norm over
// channels, SiLU, causal 3x3x3 conv, twice, plus a 1x1x1 shortcut when the width changes),
// then a resampler (a stride-2 3x3 conv per frame, plus a stride-2 causal time conv in
// temporal stages; the decoder mirrors this with nearest upsampling and a time conv that
// doubles the channels into two frames). The middle holds residual, single-head attention over
// each frame's H×W positions, residual.
//
// Length is unbounded: encode runs the first frame, then chunks of 4 frames, and decode one
// latent frame at a time, with a time cache (Wan's feat_cache): each causal conv keeps its last
// 2 input frames as the next chunk's front padding, so chunked processing equals whole-clip
// processing. Resolution is unbounded with decode_tiled (spatial tiles, blended overlaps).
//
// Wan2.2's VAE (TI2V-5B, wan/modules/vae2_2.py; VaeLayout::wan22) keeps the causal chunking and
// the blocks but differs in structure: pixels are patchified 2x2 into 12 channels before the
// encoder (and back after the decoder), so space compresses x16; each stage is a block of its own
// whose input also reaches its output through a parameter-free shortcut (AvgDown3D averages
// space-time neighbours and channel groups down to the stage's output shape; DupUp3D repeats
// them up); the decoder's upsamplers keep the width, and the decoder has its own base width.
//
// Weights live in one name -> Tensor map keyed by Wan's checkpoint keys (vae_parameter_shapes
// lists them: encoder.conv1.weight, encoder.downsamples.N.residual.0.gamma, ...time_conv.weight,
// encoder.middle.1.norm.gamma, conv1.weight, conv2.weight, decoder.upsamples.N..., decoder.head.2.
// weight); the config is inferred from those names and shapes.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kinema/tensor.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {

class Communicator;

enum class VaeLayout {
  wan21,  // encoder.downsamples.N / decoder.upsamples.N: one flat module list per network;
          // decoder upsamplers halve the width
  wan22,  // one block per stage (encoder.downsamples.S.downsamples.M, decoder.upsamples.S.
          // upsamples.M) with an AvgDown3D / DupUp3D shortcut around it; upsamplers keep the width
};

// Defaults are Wan2.1's VAE (dim 96, z_dim 16, mults 1,2,4,4, 2 residual blocks, time
// downsampling in the second and third stages).
struct VaeConfig {
  int64_t dim = 96;    // width of the first stage
  int64_t z_dim = 16;  // latent channels
  std::vector<int64_t> dim_mult{1, 2, 4, 4};  // stage widths = dim * mult; one stage per entry
  int64_t num_res_blocks = 2;                 // per encoder stage (decoder stages have one more)
  // One entry per downsampling stage (dim_mult.size() - 1): does that stage also halve time?
  // The decoder upsamples time in the mirrored stages.
  std::vector<bool> temporal_downsample{false, true, true};
  // Optional per-channel latent statistics (Wan's mean/std); empty = identity. normalize()
  // maps mu to (mu - mean) / std, the scale the DiT is trained on; denormalize() inverts it.
  std::vector<float> latents_mean, latents_std;
  VaeLayout layout = VaeLayout::wan21;
  int64_t patch_size = 1;   // p: p x p pixels become 3p² channels before the encoder (Wan2.2: 2)
  int64_t decoder_dim = 0;  // the decoder's base width; 0 = dim (Wan2.2: 256 beside dim 160)

  int64_t decoder_width() const { return decoder_dim > 0 ? decoder_dim : dim; }
  int64_t spatial_compression() const;   // patch_size · 2^(stages - 1)
  int64_t temporal_compression() const;  // 2^(temporal stages)
  void validate() const;  // throws Error naming the inconsistent field
};

// Wan2.1's VAE with its published latent mean/std.
VaeConfig wan21_vae_config();
// Wan2.2's VAE (Wan2.2_VAE.pth: dim 160, decoder 256, z_dim 48, x16 space, x4 time) with its
// published latent mean/std.
VaeConfig wan22_vae_config();

// Every parameter of a config, in checkpoint order: (Wan checkpoint key, shape).
std::vector<std::pair<std::string, Shape>> vae_parameter_shapes(const VaeConfig& config);

// The recognizer: does this tensor set look like a Wan-style causal video VAE?
bool is_vae_checkpoint(const std::map<std::string, Tensor>& tensors);

// Infers the config from checkpoint keys and shapes (Wan2.1's or Wan2.2's layout, told apart by
// the keys and encoder.conv1's input channels); throws Error naming the missing or
// mismatched key. metadata may carry "latents_mean"/"latents_std" (comma-separated floats).
VaeConfig infer_vae_config(const std::map<std::string, Tensor>& tensors,
                           const std::map<std::string, std::string>& metadata = {});

enum class VaeInit {
  standard,  // PyTorch's default conv init (U(±1/sqrt(fan_in))), gammas 1, attention proj 0
  random,    // every tensor random (gammas and proj too): for tests needing a non-trivial function
};

struct VaeLoadOptions {
  // true: weights become f32 leaves with requires_grad; false: kept in the file's dtype.
  bool trainable = false;
};

enum class VaeChunking {
  causal,  // Wan's schedule: encode frame 0, then 4 frames at a time; decode 1 latent frame
           // at a time; memory is bounded by the chunk, not the clip
  whole,   // one pass over the whole clip (same result; faster for short training clips)
};

struct VaeRunOptions {
  VaeChunking chunking = VaeChunking::causal;
  // When set, stores named intermediates (concatenated over chunks): "encoder.conv1",
  // "encoder.downsamples.N", "encoder.middle", "encoder.head", "mu", "logvar" (encode) and
  // "conv2", "decoder.conv1", "decoder.middle", "decoder.upsamples.N", "decoder.head" (decode).
  std::map<std::string, Tensor>* trace = nullptr;
  // The convolutions' products: f32, or bf16 with f32 results and gradients (conv3d_autocast;
  // training speed on CPUs with bf16 dot products).
  DType compute = DType::f32;
};

struct VaeLatent {
  Tensor mu, logvar;  // [B, z_dim, T', H', W'] each
};

// Spatial tiling for decode. Sizes are in latent pixels; the blend ramps over the overlap
// (×8 in output pixels) so seams fade linearly from one tile into the next.
struct VaeTileOptions {
  int64_t tile = 32;     // latent tile side (Wan: 256 output pixels)
  int64_t overlap = 8;   // latent pixels shared by neighbouring tiles (< tile)
};

class VAE {
 public:
  static VAE init_random(const VaeConfig& config, uint64_t seed, VaeInit init = VaeInit::standard);
  // Validates every key and shape against the inferred config; unexpected keys are errors.
  static VAE from_tensors(const TensorFile& file, const VaeLoadOptions& options = {});
  TensorFile to_tensors() const;  // weights plus metadata {"model": "kinema.vae", latents stats}

  const VaeConfig& config() const { return config_; }
  const std::map<std::string, Tensor>& weights() const { return weights_; }
  std::vector<Tensor> parameters() const;  // in vae_parameter_shapes() order
  const Tensor& weight(const std::string& name) const;  // throws Error naming a missing key

  // video [B, 3, T, H, W] with T = 1 + k·temporal_compression and H, W divisible by the
  // spatial compression -> mu, logvar [B, z_dim, 1 + k, H/s, W/s] (f32).
  VaeLatent encode(const Tensor& video, const VaeRunOptions& options = {}) const;
  // z [B, z_dim, T', H', W'] -> video [B, 3, 1 + (T'-1)·temporal_compression, H'·s, W'·s] (f32).
  Tensor decode(const Tensor& z, const VaeRunOptions& options = {}) const;
  // decode in overlapping spatial tiles blended linearly: resolution is bounded by nothing
  // but the output buffer. Inference only (no autograd). Equals decode() when one tile covers z.
  Tensor decode_tiled(const Tensor& z, const VaeTileOptions& tiles = {},
                      const VaeRunOptions& options = {}) const;

  // decode() split by time over ranks (`mpirun`, sequence-parallel generation): each rank decodes
  // a contiguous share of the latent frames, starting from the causal time cache the rank
  // before it hands over, and every rank returns the whole video, equal to decode(). The ranks
  // work one after another (each chunk needs the cache of the one before); what is split is the
  // work and the frames each rank holds while decoding. Inference only.
  Tensor decode_across(const Tensor& z, Communicator& ranks) const;

  // Latent normalisation with the config's mean/std (identity when absent).
  Tensor normalize(const Tensor& mu) const;    // (mu - mean) / std
  Tensor denormalize(const Tensor& z) const;   // z * std + mean

 private:
  VaeConfig config_;
  std::map<std::string, Tensor> weights_;
};

// Reparameterised sample mu + exp(logvar / 2) · eps, eps ~ N(0, 1) from seed; gradients flow to
// mu and logvar. (Inference uses mu.)
Tensor vae_sample(const VaeLatent& latent, uint64_t seed);
// KL(N(mu, exp(logvar)) || N(0, 1)), mean over all elements: 0.5·(mu² + exp(logvar) − 1 − logvar).
Tensor vae_kl(const VaeLatent& latent);

}  // namespace kinema
