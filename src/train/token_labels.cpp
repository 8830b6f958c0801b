// The shape-label loss: a block's tokens, read by a fixed linear probe (their first K channels),
// against each token's class shares (train.hpp, token_label_loss; docs/train.md "Shape labels").
#include "train/token_labels.hpp"

#include "kinema/error.hpp"
#include "kinema/ops.hpp"

namespace kinema {

Tensor batch_token_targets(const std::vector<LatentSample>& samples, const std::array<int64_t, 3>& patch) {
  if (samples.empty() || !samples[0].token_labels.defined()) return {};
  const Shape lat = samples[0].latent.shape();  // [C, T, H, W]
  const Shape& ls = samples[0].token_labels.shape();
  check(ls.size() == 4 && ls[0] == lat[1] && ls[1] == lat[2] && ls[2] == lat[3] && ls[3] >= 1, "make_flow_batch",
        "sample 0's token labels are ", shape_str(ls), "; expected [T, H, W, K] = [", lat[1], ", ", lat[2], ", ",
        lat[3], ", K]");
  const int64_t T = lat[1], H = lat[2], W = lat[3], K = ls[3];
  const int64_t pt = patch[0], ph = patch[1], pw = patch[2];
  check(T % pt == 0 && H % ph == 0 && W % pw == 0, "make_flow_batch", "the latent ", shape_str(lat),
        " does not divide into ", pt, "x", ph, "x", pw, " patches");
  const int64_t Tn = T / pt, Hn = H / ph, Wn = W / pw, N = Tn * Hn * Wn;
  const float share = 1.f / float(pt * ph * pw);
  std::vector<float> out(size_t(int64_t(samples.size()) * N * K), 0.f);
  for (size_t i = 0; i < samples.size(); ++i) {
    const Tensor& labels = samples[i].token_labels;
    check(labels.defined() && labels.shape() == ls, "make_flow_batch", "sample ", i, "'s token labels are ",
          labels.defined() ? shape_str(labels.shape()) : std::string("missing"), "; expected ", shape_str(ls),
          " like sample 0's");
    const std::vector<float> v = labels.to_vector();
    float* o = out.data() + int64_t(i) * N * K;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t token = ((t / pt) * Hn + y / ph) * Wn + x / pw;
          const float* src = v.data() + ((t * H + y) * W + x) * K;
          for (int64_t k = 0; k < K; ++k) o[token * K + k] += share * src[k];
        }
  }
  return Tensor::from_vector(out, {int64_t(samples.size()), N, K});
}

Tensor token_label_loss(const Tensor& hidden, const Tensor& targets) {
  check(hidden.ndim() == 3 && targets.ndim() == 3 && hidden.size(0) == targets.size(0) &&
            hidden.size(1) == targets.size(1) && targets.size(2) <= hidden.size(2),
        "token_label_loss", "hidden tokens [B, N, D] and targets [B, N, K <= D] do not match: ",
        shape_str(hidden.shape()), " and ", shape_str(targets.shape()));
  const Tensor logits = slice(hidden, 2, 0, targets.size(2));  // the probe: K channels of the stream
  const Tensor per_token = sum(mul(log_softmax(logits, -1), targets), {{2}});
  return neg(mean(per_token));
}

}  // namespace kinema
