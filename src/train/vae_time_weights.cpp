// A video VAE's time-mixing weights set for what comes next (inflation, then keyframes).
//
// An image-trained VAE made ready for video: training on one-frame images never sends a gradient
// into the weights that mix frames (a causal conv's taps on earlier frames only ever meet frame
// 0's zero padding; the time resamplers never run), so they still hold their random init and
// would scramble every frame after the first. Inflation sets them to the identity in time:
// earlier taps zero, the encoder's time_conv the mean of the two frames each output stands for,
// the decoder's time_conv a copy of its input into both output frames. Frame 0 (an image) is
// computed exactly as before, and a still video encodes every latent frame as the image's and
// decodes every frame as the image's reconstruction: video training starts from there.
//
// A video VAE's latent frames turned into keyframes. After `vae inflate` and clip training the
// encoder's time resamplers average the two frames of each pair, so a latent frame is about the
// mean of its group of 4 and a moving object comes out as the same blurred frame 4 times (the
// shipped VAE sits at the PSNR of drawing each group still as its mean frame: docs/train.md,
// session 28). Keyframing makes each encoder resampler keep the later frame of its pair (the sum
// of both taps on it, so a still video encodes as before): latent frame k is then frame 4k as
// the image path sees it, sharp. Each decoder resampler's earlier output frame becomes the mean
// of its current and previous input, its later one stays the current input: at both x2 stages
// that is linear interpolation between consecutive keyframes (frame 4k - j = (j/4) key k-1 +
// (1 - j/4) key k in the resamplers' features), the start a decoder-only run trains into motion.
#include "kinema/error.hpp"
#include "kinema/vae_train.hpp"

namespace kinema {
namespace {

// [O, I, kT, kH, kW] -> the same with taps t < kT - 1 zeroed (the current frame's tap kept).
Tensor current_frame_only(const Tensor& w) {
  const Shape& s = w.shape();
  std::vector<float> v = w.to_vector();
  const int64_t taps = s[2], plane = s[3] * s[4];
  for (int64_t oi = 0; oi < s[0] * s[1]; ++oi)
    for (int64_t t = 0; t + 1 < taps; ++t)
      std::fill_n(v.begin() + (oi * taps + t) * plane, plane, 0.f);
  return Tensor::from_vector(v, s);
}

// A time resampler's weight is [O, I, 3, 1, 1] with O = I (encoder) or 2I (decoder).
void check_time_conv_shape(const Shape& s, const char* who) {
  check(s.size() == 5 && s[2] == 3 && s[3] == 1 && s[4] == 1 && s[0] % s[1] == 0, who,
        "a time_conv weight must be [O, I, 3, 1, 1] with O a multiple of I; got ", shape_str(s));
}

// A time_conv [O, I, 3, 1, 1] whose output channel o reads input o mod I with weight `weight`
// at each tap in `taps` (encoder: O = I, taps {1, 2} at 1/2; decoder: O = 2I, tap {2} at 1).
Tensor identity_time_conv(const Shape& s, std::initializer_list<int64_t> taps, float weight) {
  check_time_conv_shape(s, "vae inflate");
  std::vector<float> v(size_t(shape_numel(s)), 0.f);
  for (int64_t o = 0; o < s[0]; ++o)
    for (int64_t t : taps) v[size_t((o * s[1] + o % s[1]) * 3 + t)] = weight;
  return Tensor::from_vector(v, s);
}

// Refuses all but Wan2.1-layout VAEs on plain pixels (every key and shape checked), the only
// kind whose time weights these transforms know.
void check_plain_wan21(const TensorFile& vae, const char* who) {
  const VaeConfig c = VAE::from_tensors(vae).config();
  check(c.layout == VaeLayout::wan21 && c.patch_size == 1, who,
        "supports Wan2.1-layout VAEs on plain pixels (kinema's default); this one ",
        c.layout == VaeLayout::wan21 ? "patchifies its input" : "has Wan2.2's layout");
}

// A time_conv weight [O, I, 3, 1, 1] as floats, with (o, i, tap) indexing.
struct TimeConv {
  Shape shape;
  std::vector<float> v;
  float& at(int64_t o, int64_t i, int64_t tap) { return v[size_t((o * shape[1] + i) * 3 + tap)]; }
};

TimeConv time_conv_of(const Tensor& w) {
  check_time_conv_shape(w.shape(), "vae keyframe");
  return TimeConv{w.shape(), w.to_vector()};
}

// Encoder: taps 1 and 2 read the pair's earlier and later frame; both go onto the later one.
Tensor keep_later_frame(const Tensor& w) {
  TimeConv c = time_conv_of(w);
  for (int64_t o = 0; o < c.shape[0]; ++o)
    for (int64_t i = 0; i < c.shape[1]; ++i) c.at(o, i, 2) += c.at(o, i, 1), c.at(o, i, 1) = 0.f;
  return Tensor::from_vector(c.v, c.shape);
}

// Decoder: outputs [0, I) are the earlier of the two frames each input becomes; tap 2 reads the
// current input, tap 1 the previous one. Half of the current tap moves onto the previous input.
Tensor interpolate_earlier_frame(const Tensor& w) {
  TimeConv c = time_conv_of(w);
  check(c.shape[0] == 2 * c.shape[1], "vae keyframe", "a decoder time_conv must make two frames (O = 2I); got ",
        shape_str(c.shape));
  for (int64_t o = 0; o < c.shape[1]; ++o)
    for (int64_t i = 0; i < c.shape[1]; ++i) {
      const float half = 0.5f * c.at(o, i, 2);
      c.at(o, i, 2) = half, c.at(o, i, 1) += half;
    }
  return Tensor::from_vector(c.v, c.shape);
}

}  // namespace

TensorFile inflate_vae_time(const TensorFile& vae) {
  check_plain_wan21(vae, "vae inflate");
  TensorFile out = vae;
  int64_t changed = 0;  // a VAE that never halves time has only causal taps to clear
  for (auto& [name, w] : out.tensors) {
    const bool time_conv = name.find(".time_conv.") != std::string::npos;
    if (time_conv && name.ends_with(".bias")) {
      w = Tensor::from_vector(std::vector<float>(size_t(w.numel()), 0.f), w.shape());
    } else if (time_conv) {
      w = name.starts_with("encoder.") ? identity_time_conv(w.shape(), {1, 2}, 0.5f)
                                       : identity_time_conv(w.shape(), {2}, 1.f);
    } else if (w.ndim() == 5 && w.size(2) > 1) {
      w = current_frame_only(w);
    } else {
      continue;
    }
    ++changed;
  }
  check(changed > 0, "vae inflate", "no time-mixing weight found: not a causal video VAE");
  return out;
}

TensorFile keyframe_vae_time(const TensorFile& vae) {
  check_plain_wan21(vae, "vae keyframe");
  TensorFile out = vae;
  int64_t changed = 0;
  for (auto& [name, w] : out.tensors) {
    if (name.find(".time_conv.") == std::string::npos || !name.ends_with(".weight")) continue;
    w = name.starts_with("encoder.") ? keep_later_frame(w) : interpolate_earlier_frame(w);
    ++changed;
  }
  check(changed > 0, "vae keyframe", "no time resampler found: this VAE does not compress time");
  return out;
}

}  // namespace kinema
