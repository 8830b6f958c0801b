// Pipeline::image_context: Wan I2V/FLF2V's CLIP features of the given frames, preprocessed as
// Wan's CLIPModel.visual does: torch's bicubic interpolation (a = -0.75, align_corners=False,
// no antialiasing) to 224 x 224, [-1, 1] -> [0, 1], CLIP's mean/std; the penultimate block.
#include <algorithm>
#include <cmath>

#include "generate/internal.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/pipeline.hpp"

namespace kinema {
namespace detail {
namespace {

// Keys's cubic convolution weights with torch's A = -0.75 for the offset t in [0, 1).
void cubic_weights(double t, double w[4]) {
  const double A = -0.75;
  auto near = [&](double x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };            // |x| <= 1
  auto far = [&](double x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };       // 1 < |x| < 2
  w[0] = far(t + 1), w[1] = near(t), w[2] = near(1 - t), w[3] = far(2 - t);
}

// One axis: out[i] = sum_k w_k in[clamp(floor(src) - 1 + k)], src = (i + 0.5) in/out - 0.5.
std::vector<float> resize_axis(const std::vector<float>& in, int64_t outer, int64_t n_in, int64_t inner, int64_t n_out) {
  std::vector<float> out(size_t(outer * n_out * inner));
  const double scale = double(n_in) / double(n_out);
  for (int64_t i = 0; i < n_out; ++i) {
    const double src = (double(i) + 0.5) * scale - 0.5;
    const int64_t base = int64_t(std::floor(src));
    double w[4];
    cubic_weights(src - double(base), w);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j) {
        double acc = 0;
        for (int k = 0; k < 4; ++k) {
          const int64_t at = std::clamp<int64_t>(base - 1 + k, 0, n_in - 1);
          acc += w[k] * in[size_t((o * n_in + at) * inner + j)];
        }
        out[size_t((o * n_out + i) * inner + j)] = float(acc);
      }
  }
  return out;
}

}  // namespace

Tensor resize_bicubic(const Tensor& x, int64_t out_h, int64_t out_w) {
  check(x.ndim() == 4 && out_h > 0 && out_w > 0, "resize", "expected [B, C, H, W] and a positive size; got ",
        shape_str(x.shape()));
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<float> v = resize_axis(contiguous(x).to_vector(), B * C * H, W, 1, out_w);  // rows
  v = resize_axis(v, B * C, H, out_w, out_h);                                              // columns
  return Tensor::from_vector(v, {B, C, out_h, out_w});
}

}  // namespace detail

Tensor Pipeline::image_context(const std::vector<KnownFrame>& known, int frames) const {
  check(clip_ != nullptr, "generate", "this model has no CLIP image encoder");
  const bool two = dit_.config().image_tokens > 0;  // FLF2V: first and last frame
  std::vector<const Frame*> images;
  for (int want : two ? std::vector<int>{0, frames - 1} : std::vector<int>{0}) {
    auto it = std::find_if(known.begin(), known.end(), [&](const KnownFrame& k) { return k.index == want; });
    check(it != known.end(), "generate", "this Wan ", two ? "FLF2V" : "I2V", " model animates a given image: give ",
          two ? "--image (the first frame) and --last-image (the last)" : "--image (the first frame)");
    images.push_back(&it->frame);
  }
  NoGradGuard no_grad;
  const int64_t S = clip_->config().image_size;
  std::vector<Tensor> feats;
  for (const Frame* f : images) {
    Tensor x = detail::resize_bicubic(reshape(detail::frames_to_video({*f}), {1, 3, f->height, f->width}), S, S);
    std::vector<float> v = x.to_vector();  // [-1, 1] -> [0, 1] -> CLIP's normalisation, per channel
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < S * S; ++i) {
        float& p = v[size_t(c * S * S + i)];
        p = ((p * 0.5f + 0.5f) - kClipMean[c]) / kClipStd[c];
      }
    feats.push_back(clip_->forward(Tensor::from_vector(v, {1, 3, S, S})));  // [1, 257, 1280]
  }
  return feats.size() == 1 ? feats[0] : concat(feats, 1);  // FLF2V: [1, 514, 1280]
}

}  // namespace kinema
