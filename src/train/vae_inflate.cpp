// An image-trained VAE made ready for video: training on one-frame images never sends a gradient
// into the weights that mix frames (a causal conv's taps on earlier frames only ever meet frame
// 0's zero padding; the time resamplers never run), so they still hold their random init and
// would scramble every frame after the first. Inflation sets them to the identity in time:
// earlier taps zero, the encoder's time_conv the mean of the two frames each output stands for,
// the decoder's time_conv a copy of its input into both output frames. Frame 0 (an image) is
// computed exactly as before, and a still video encodes every latent frame as the image's and
// decodes every frame as the image's reconstruction: video training starts from there.
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

// A time_conv [O, I, 3, 1, 1] whose output channel o reads input o mod I with weight `weight`
// at each tap in `taps` (encoder: O = I, taps {1, 2} at 1/2; decoder: O = 2I, tap {2} at 1).
Tensor identity_time_conv(const Shape& s, std::initializer_list<int64_t> taps, float weight) {
  check(s.size() == 5 && s[2] == 3 && s[3] == 1 && s[4] == 1 && s[0] % s[1] == 0, "vae inflate",
        "a time_conv weight must be [O, I, 3, 1, 1] with O a multiple of I; got ", shape_str(s));
  std::vector<float> v(size_t(shape_numel(s)), 0.f);
  for (int64_t o = 0; o < s[0]; ++o)
    for (int64_t t : taps) v[size_t((o * s[1] + o % s[1]) * 3 + t)] = weight;
  return Tensor::from_vector(v, s);
}

}  // namespace

TensorFile inflate_vae_time(const TensorFile& vae) {
  const VaeConfig c = VAE::from_tensors(vae).config();  // checks every key and shape
  check(c.layout == VaeLayout::wan21 && c.patch_size == 1, "vae inflate",
        "inflation supports Wan2.1-layout VAEs on plain pixels (kinema's default); this one ",
        c.layout == VaeLayout::wan21 ? "patchifies its input" : "has Wan2.2's layout");
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

}  // namespace kinema
