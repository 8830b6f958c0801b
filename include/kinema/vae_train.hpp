// Training the causal video VAE: reconstruction (L1 + L2 on pixels in [-1, 1]) plus a small KL
// to N(0, 1), on clips of any shape (each sample runs alone, so images and clips of different
// sizes mix in one optimizer step), with the shared TrainState (AdamW, EMA, checkpoints that
// resume bit-identically); or the decoder alone on a frozen encoder's latents. docs/train.md
// gives the recipe.
#pragma once
#include <cstdint>
#include <string>

#include "kinema/tensor.hpp"
#include "kinema/train.hpp"
#include "kinema/vae.hpp"

namespace kinema {

// What the VAE trainer reads: clips [3, T, H, W] in [-1, 1] with T = 1 + k * the VAE's
// temporal compression and H, W divisible by its spatial compression. get() must be a pure
// function of index (resume relies on it).
class VideoDataset {
 public:
  virtual ~VideoDataset() = default;
  virtual int64_t size() const = 0;
  virtual Tensor get(int64_t index) const = 0;
};

// Which parts of the VAE train.
enum class VaeTrainedPart {
  whole,    // encoder and decoder: reconstruction + KL
  // conv2 and decoder.* (is_vae_decoder_key) on the latents of the frozen encoder (encoder.*
  // and conv1, which make mu and logvar; no gradients, optimizer state or EMA): the latent
  // space, and a DiT trained on it, stay valid, as with Stable Diffusion's ft-MSE decoder.
  // Reconstruction only: with the encoder fixed the KL is a constant.
  decoder,
};

// What the decoder reads in training.
enum class VaeDecoderInput {
  // mu + exp(logvar / 2) eps: the decoder learns to take latents near mu, as a DiT's are.
  sample,
  mean,  // mu itself
};

struct VaeTrainerOptions : TrainLoopOptions {
  float l1_weight = 1.f;     // mean |x̂ - x|
  float l2_weight = 1.f;     // mean (x̂ - x)²
  float kl_weight = 1e-6f;   // KL(q(z|x) || N(0, 1)), mean per latent element (as SD's VAEs)
  // Weight of the two colour axes of the error against brightness. The world's pixels vary
  // ~8x more along brightness (R=G=B) than along colour, so a plain loss learns brightness
  // first and leaves colours grey for thousands of steps; != 1 measures both L1 and L2 in
  // the orthonormal (luma, R-G, R+G-2B) basis with the colour axes scaled by this.
  float chroma_weight = 1.f;
  // mean ((x̂_{t+1} - x̂_t) - (x_{t+1} - x_t))²: the error in each frame-to-frame change (in the
  // same colour basis). A decoder that draws one frame for a latent frame's whole group of 4
  // has every change inside the group wrong and all of the motion at the group's edge (the
  // stutter `vae recon` reports); this weights exactly that. Clips only (images have no change).
  float motion_weight = 0.f;
  VaeTrainedPart trained = VaeTrainedPart::whole;
  VaeDecoderInput decoder_input = VaeDecoderInput::sample;
  DType compute = DType::f32;  // the convolutions' products (master weights and optimizer stay f32)
};

struct VaeStepStats : StepStats {};

// The reconstruction part of the loss: l1 mean|d| + l2 mean d² + motion mean (d_{t+1} - d_t)²,
// d = decoded - x, measured in the opponent-colour basis when chroma_weight != 1.
Tensor vae_reconstruction_loss(const Tensor& decoded, const Tensor& x, const VaeTrainerOptions& options);

// Does this checkpoint key belong to the decoding half (conv2, decoder.*)? The rest (encoder.*,
// conv1) maps pixels to mu and logvar.
bool is_vae_decoder_key(const std::string& key);

// A VAE file with init's encoder and latent statistics and a new decoder of base width
// decoder_width, initialised as VAE::init_random does (VaeInit::standard, Wan's init) from seed.
// Throws Error when the width does not fit the file's stages.
TensorFile vae_with_new_decoder(const TensorFile& init, int64_t decoder_width, uint64_t seed);

// The same VAE at twice the width (dim, and decoder_dim if set), computing the same function
// (function-preserving widening, src/train/vae_widen.cpp): the same latents and decodes up to
// f32 rounding, with its copied channels set to grow apart under training (seed draws how each
// input weight is split between its two copies). decoder_only: the decoder alone (decoder_dim
// doubled), the encoder kept as it is (and so vae_encoder_hash: a DiT's latent cache stays).
// Widened tensors are f32, the others keep their dtype. Wan2.1 layout on plain pixels only;
// throws Error otherwise.
TensorFile widen_vae(const TensorFile& vae, uint64_t seed = 1, bool decoder_only = false);

// An image-trained VAE (trained on one-frame clips only) made ready for video training
// (src/train/vae_time_weights.cpp): its time-mixing weights, which images never trained,
// become the identity in time. Images encode and decode exactly as before; a still video
// encodes to the image's latent in every latent frame and decodes to the image's
// reconstruction in every frame. Inflating a video-trained VAE discards what it learned about
// motion. Tensors it sets are f32.
TensorFile inflate_vae_time(const TensorFile& vae);

// A video VAE whose latent frames are keyframes (src/train/vae_time_weights.cpp): each
// encoder time resampler keeps the later frame of its pair (both taps' weights on it), so
// latent frame k is frame 4k through the image path, not a mean of 4 frames; each decoder time
// resampler's earlier output frame becomes the mean of its current and previous input, which
// over both x2 stages interpolates linearly between keyframes. A still video encodes as
// before. A new latent space: a DiT trained on the old one must move to it. Tensors it sets
// are f32.
TensorFile keyframe_vae_time(const TensorFile& vae);

class VaeTrainer {
 public:
  // The model must outlive the trainer; its parameters are updated in place (with
  // VaeTrainedPart::decoder only the decoder's; the encoder's are left as they are).
  VaeTrainer(VAE& model, const VideoDataset& data, const VaeTrainerOptions& options);
  StepStats step();
  int64_t steps_done() const { return state_.step(); }
  int64_t data_position() const { return state_.data_position(); }
  TensorFile ema_tensors() const;
  // Checkpoints with format "kinema.train.vae/1", or "kinema.train.vae-decoder/1" when only the
  // decoder trains (TrainState::save / load; model and EMA files are whole VAEs either way, and
  // load() refuses a checkpoint whose encoder differs from the model's).
  std::string save(const std::string& dir) const;
  void load(const std::string& dir);

 private:
  // One clip's loss [1], x [1, 3, T, H, W]; noise_seed draws the latent sample.
  Tensor clip_loss(const Tensor& x, uint64_t noise_seed) const;

  VAE& model_;
  const VideoDataset& data_;
  VaeTrainerOptions options_;
  TrainState state_;
};

// Reconstruction quality of a VAE on one clip [3, T, H, W] in [-1, 1]: encode to mu, decode,
// PSNR in dB over pixels mapped to [0, 1] (peak 1). Inference only.
double vae_psnr(const VAE& model, const Tensor& video, VaeChunking chunking = VaeChunking::whole);
// The same for a decoded clip against the original (both [3, T, H, W] in [-1, 1]).
double psnr(const Tensor& decoded, const Tensor& original);
// Each frame's mean squared error on [0, 1] (decoded clamped as a written video would be), for
// clips [C, T, H, W] or [1, C, T, H, W]: where in time a VAE loses its PSNR.
std::vector<double> frame_squared_errors(const Tensor& decoded, const Tensor& original);
// Each frame-to-frame change of a clip [C, T, H, W] or [1, C, T, H, W] in [-1, 1]: T - 1 values,
// the mean |x_{t+1} - x_t| on [0, 1] (clamped as a written video would be). Against the
// original's, where a decoder moves things: a VAE that draws one frame per latent group moves
// everything at the group's edge and nothing inside it.
std::vector<double> frame_changes(const Tensor& clip);
// The clip [C, T, H, W] or [1, C, T, H, W] with frame 0 kept and every later group of
// `group` frames (1..group, group+1..2 group, ...) replaced by its mean frame: what a VAE
// that keeps nothing of the motion inside a latent frame would at best decode (the mean
// minimises the squared error of a still frame). Against it `vae recon` separates the
// loss of motion from the loss of detail.
Tensor group_mean_frames(const Tensor& clip, int64_t group);
// PSNR in dB of a mean squared error on [0, 1] (99 for an exact match).
double psnr_of_mse(double mse);

}  // namespace kinema
