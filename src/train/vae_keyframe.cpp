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

// A time_conv weight [O, I, 3, 1, 1] as floats, with (o, i, tap) indexing.
struct TimeConv {
  Shape shape;
  std::vector<float> v;
  float& at(int64_t o, int64_t i, int64_t tap) { return v[size_t((o * shape[1] + i) * 3 + tap)]; }
};

TimeConv time_conv_of(const Tensor& w) {
  const Shape& s = w.shape();
  check(s.size() == 5 && s[2] == 3 && s[3] == 1 && s[4] == 1, "vae keyframe",
        "a time_conv weight must be [O, I, 3, 1, 1]; got ", shape_str(s));
  return TimeConv{s, w.to_vector()};
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

TensorFile keyframe_vae_time(const TensorFile& vae) {
  const VaeConfig c = VAE::from_tensors(vae).config();  // checks every key and shape
  check(c.layout == VaeLayout::wan21 && c.patch_size == 1, "vae keyframe",
        "keyframing supports Wan2.1-layout VAEs on plain pixels (kinema's default); this one ",
        c.layout == VaeLayout::wan21 ? "patchifies its input" : "has Wan2.2's layout");
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
