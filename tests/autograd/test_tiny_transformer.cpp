// A 2-layer transformer (attention + MLP, pre-norm, bf16 compute on f32 master weights)
// learns to reverse a sequence: the loss must fall below a stated value within a fixed number
// of steps, and two runs from the same seed must give bit-identical losses.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"
#include "kinema/optim.hpp"

namespace kinema {
namespace {

constexpr int64_t kVocab = 10, kLen = 8, kDim = 64, kHeads = 4, kBatch = 32;

struct Rng {
  std::mt19937_64 g;
  float uniform() { return float(g() >> 40) / float(1 << 24); }
};

Tensor param(Rng& r, const Shape& s, float bound) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (float& x : v) x = (2 * r.uniform() - 1) * bound;
  return Tensor::from_vector(v, s).set_requires_grad();
}

struct Layer {
  Tensor ln1_w, ln1_b, wq, wk, wv, wo, ln2_w, ln2_b, w1, b1, w2, b2;
};

struct Model {
  Tensor tok, pos, lnf_w, lnf_b, head;
  std::vector<Layer> layers;
  std::vector<Tensor> params() const {
    std::vector<Tensor> p{tok, pos, lnf_w, lnf_b, head};
    for (const Layer& l : layers)
      for (const Tensor& t : {l.ln1_w, l.ln1_b, l.wq, l.wk, l.wv, l.wo, l.ln2_w, l.ln2_b, l.w1, l.b1, l.w2, l.b2})
        p.push_back(t);
    return p;
  }
};

Model init(uint64_t seed) {
  Rng r{std::mt19937_64(seed)};
  Model m;
  float s = 1.f / std::sqrt(float(kDim));
  m.tok = param(r, {kVocab, kDim}, 1.f);
  m.pos = param(r, {kLen, kDim}, 1.f);
  m.lnf_w = Tensor::full({kDim}, 1.f).set_requires_grad();
  m.lnf_b = Tensor::zeros({kDim}).set_requires_grad();
  m.head = param(r, {kVocab, kDim}, s);
  for (int i = 0; i < 2; ++i) {
    Layer l;
    l.ln1_w = Tensor::full({kDim}, 1.f).set_requires_grad();
    l.ln1_b = Tensor::zeros({kDim}).set_requires_grad();
    l.ln2_w = Tensor::full({kDim}, 1.f).set_requires_grad();
    l.ln2_b = Tensor::zeros({kDim}).set_requires_grad();
    l.wq = param(r, {kDim, kDim}, s), l.wk = param(r, {kDim, kDim}, s);
    l.wv = param(r, {kDim, kDim}, s), l.wo = param(r, {kDim, kDim}, s);
    l.w1 = param(r, {4 * kDim, kDim}, s), l.b1 = Tensor::zeros({4 * kDim}).set_requires_grad();
    l.w2 = param(r, {kDim, 4 * kDim}, s / 2), l.b2 = Tensor::zeros({kDim}).set_requires_grad();
    m.layers.push_back(l);
  }
  return m;
}

Tensor bf16(const Tensor& t) { return cast(t, DType::bf16); }

// [B, N, D] -> [B, H, N, D/H]
Tensor heads(const Tensor& x) { return permute(reshape(x, {kBatch, kLen, kHeads, kDim / kHeads}), {0, 2, 1, 3}); }

Tensor forward(const Model& m, const std::vector<int32_t>& tokens) {
  Tensor x = add(embedding(m.tok, tokens, {kBatch, kLen}), m.pos);  // [B, N, D] f32
  for (const Layer& l : m.layers) {
    Tensor h = bf16(layer_norm(x, l.ln1_w, l.ln1_b));
    Tensor q = heads(linear(h, bf16(l.wq))), k = heads(linear(h, bf16(l.wk))), v = heads(linear(h, bf16(l.wv)));
    Tensor a = reshape(permute(attention(q, k, v), {0, 2, 1, 3}), {kBatch, kLen, kDim});
    x = add(x, cast(linear(a, bf16(l.wo)), DType::f32));
    Tensor h2 = bf16(layer_norm(x, l.ln2_w, l.ln2_b));
    Tensor f = linear(gelu(linear(h2, bf16(l.w1), bf16(l.b1))), bf16(l.w2), bf16(l.b2));
    x = add(x, cast(f, DType::f32));
  }
  return linear(layer_norm(x, m.lnf_w, m.lnf_b), m.head);  // [B, N, V]
}

std::vector<float> train(int steps, uint64_t seed) {
  Model m = init(seed);
  AdamW opt(m.params(), {.lr = 3e-3f, .weight_decay = 0.0f});
  std::mt19937_64 data(seed + 1);
  std::vector<float> losses;
  for (int step = 0; step < steps; ++step) {
    std::vector<int32_t> x(size_t(kBatch * kLen)), y(x.size());
    for (int64_t b = 0; b < kBatch; ++b)
      for (int64_t i = 0; i < kLen; ++i) x[size_t(b * kLen + i)] = int32_t(data() % kVocab);
    for (int64_t b = 0; b < kBatch; ++b)
      for (int64_t i = 0; i < kLen; ++i) y[size_t(b * kLen + i)] = x[size_t(b * kLen + kLen - 1 - i)];
    Tensor logits = reshape(forward(m, x), {kBatch * kLen, kVocab});
    Tensor loss = cross_entropy(logits, y);
    losses.push_back(loss.item());
    backward(loss);
    clip_grad_norm(m.params(), 1.f);
    opt.step();
    opt.zero_grad();
  }
  return losses;
}

TEST(TinyTransformer, LearnsToReverseASequenceWithin300Steps) {
  std::vector<float> losses = train(300, 7);
  EXPECT_GT(losses.front(), 2.0f);  // starts near ln(10) = 2.30
  float tail = 0;
  for (size_t i = losses.size() - 10; i < losses.size(); ++i) tail += losses[i] / 10;
  EXPECT_LT(tail, 0.05f) << "mean loss over the last 10 steps";
}

TEST(TinyTransformer, TrainingIsReproducibleFromTheSeed) {
  std::vector<float> a = train(15, 11), b = train(15, 11);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace kinema
