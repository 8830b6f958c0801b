// Text encoder: buckets, config inference and round trip, load errors, gradients, paths.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "error_of.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/optim.hpp"
#include "text_test_util.hpp"

namespace kinema::test {
namespace {

TEST(TextEncoder, BucketsFollowT5) {
  // 32 buckets, max distance 128: 16 per direction, distances 0..7 exact, then log-spaced.
  auto b = [](int64_t rel) { return t5_relative_position_bucket(rel, 32, 128); };
  EXPECT_EQ(b(0), 0);
  EXPECT_EQ(b(-7), 7);
  EXPECT_EQ(b(7), 23);
  EXPECT_EQ(b(-8), 8);
  EXPECT_EQ(b(-15), 9);
  EXPECT_EQ(b(-16), 10);  // 8 + floor(log(2) / log(16) * 8) = 10 exactly at the boundary
  EXPECT_EQ(b(-127), 15);
  EXPECT_EQ(b(-5000), 15);
  EXPECT_EQ(b(5000), 31);
  EXPECT_EQ(t5_relative_position_bucket(-3, 32, 128, BucketDirection::past_only), 3);  // decoder: past only
  EXPECT_EQ(t5_relative_position_bucket(3, 32, 128, BucketDirection::past_only), 0);
}

TEST(TextEncoder, ConfigRoundTripsThroughAFile) {
  TextEncoderConfig c = tiny_text_config();
  c.max_distance = 64;
  TextEncoder m = TextEncoder::init_random(c, 1);
  auto path = std::filesystem::temp_directory_path() / ("kinema-te-" + std::to_string(::getpid()) + ".safetensors");
  save_tensors(path.string(), m.to_tensors());
  TextEncoder back = TextEncoder::from_tensors(load_tensors(path.string()));
  std::filesystem::remove(path);
  const TextEncoderConfig& d = back.config();
  EXPECT_EQ(d.vocab_size, 100);
  EXPECT_EQ(d.dim, 64);
  EXPECT_EQ(d.dim_attn, 64);
  EXPECT_EQ(d.ffn_dim, 128);
  EXPECT_EQ(d.num_heads, 4);
  EXPECT_EQ(d.num_layers, 2);
  EXPECT_EQ(d.num_buckets, 32);
  EXPECT_EQ(d.max_distance, 64);
  EXPECT_FALSE(d.shared_pos);
  EXPECT_TRUE(is_text_encoder_checkpoint(back.weights()));
  EXPECT_EQ(back.parameters().size(), m.parameters().size());
  NoGradGuard g;
  TokenBatch t = seeded_tokens({5, 3}, 5, 100, 2);
  std::vector<float> a = m.forward(t).to_vector(), b = back.forward(t).to_vector();
  EXPECT_EQ(a, b);
}

TEST(TextEncoder, UmT5XxlShapesGiveItsConfig) {
  TextEncoderConfig c;  // defaults: umT5-XXL
  auto shapes = text_encoder_parameter_shapes(c);
  std::map<std::string, Tensor> fake;  // shape-only stand-ins: 1-element tensors viewed big
  Tensor one = Tensor::zeros({1});
  for (const auto& [name, shape] : shapes)
    fake[name] = one.as_strided(shape, Shape(shape.size(), 0), 0);
  TextEncoderConfig d = infer_text_encoder_config(fake);
  EXPECT_EQ(d.vocab_size, 256384);
  EXPECT_EQ(d.dim, 4096);
  EXPECT_EQ(d.ffn_dim, 10240);
  EXPECT_EQ(d.num_heads, 64);
  EXPECT_EQ(d.num_layers, 24);
  EXPECT_EQ(d.num_buckets, 32);
  EXPECT_EQ(shapes.size(), 2u + 24u * 10u);
}

TEST(TextEncoder, BadCheckpointsNameTheKey) {
  TensorFile f = TextEncoder::init_random(tiny_text_config(), 1).to_tensors();
  TensorFile missing = f;
  missing.tensors.erase("blocks.1.ffn.fc1.weight");
  EXPECT_NE(error_of([&] { TextEncoder::from_tensors(missing); }).find("\"blocks.1.ffn.fc1.weight\""),
            std::string::npos);
  TensorFile no_emb = f;
  no_emb.tensors.erase("token_embedding.weight");
  EXPECT_NE(error_of([&] { TextEncoder::from_tensors(no_emb); }).find("\"token_embedding.weight\""),
            std::string::npos);
  TensorFile bad = f;
  bad.tensors["blocks.0.attn.o.weight"] = Tensor::zeros({64, 32});
  std::string e = error_of([&] { TextEncoder::from_tensors(bad); });
  EXPECT_NE(e.find("\"blocks.0.attn.o.weight\" has shape [64, 32]; expected [64, 64]"), std::string::npos) << e;
  TensorFile extra = f;
  extra.tensors["blocks.0.attn.q.bias"] = Tensor::zeros({64});
  EXPECT_NE(error_of([&] { TextEncoder::from_tensors(extra); }).find("unexpected tensor \"blocks.0.attn.q.bias\""),
            std::string::npos);
  TextEncoder m = TextEncoder::from_tensors(f);
  TokenBatch t = seeded_tokens({3}, 3, 100, 1);
  t.ids[1] = 100;
  EXPECT_NE(error_of([&] { m.forward(t); }).find("outside the vocabulary"), std::string::npos);
  TokenBatch empty = seeded_tokens({3}, 3, 100, 1);
  empty.mask = {0, 0, 0};
  EXPECT_NE(error_of([&] { m.forward(empty); }).find("no valid token"), std::string::npos);
}

TEST(TextEncoder, GradientsReachEveryParameter) {
  TextEncoder m = TextEncoder::init_random(tiny_text_config(), 3, TextEncoderInit::random);
  TokenBatch t = seeded_tokens({7, 4}, 7, 100, 5);
  Tensor out = m.forward(t);                                         // [2, 7, 64]
  Tensor target = Tensor::full(out.shape(), 0.25f);
  backward(mse_loss(out, target));
  auto shapes = text_encoder_parameter_shapes(m.config());
  std::vector<Tensor> params = m.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor g = params[i].grad();
    ASSERT_TRUE(g.defined()) << shapes[i].first;
    EXPECT_EQ(g.shape(), shapes[i].second) << shapes[i].first;
    double sq = 0;
    bool finite = true;
    for (float v : g.to_vector()) sq += double(v) * v, finite = finite && std::isfinite(v);
    EXPECT_TRUE(finite) << shapes[i].first;
    EXPECT_GT(sq, 0) << shapes[i].first;
  }
}

TEST(TextEncoder, TrainingAndInferencePathsAgree) {
  // Training composes attention from ops (the position bias needs a gradient); inference uses
  // the flash attention op with the bias as its mask.
  TextEncoder m = TextEncoder::init_random(tiny_text_config(), 4, TextEncoderInit::random);
  TokenBatch t = seeded_tokens({9, 2, 5}, 9, 100, 6);
  std::vector<float> train = m.forward(t).to_vector(), infer;
  {
    NoGradGuard g;
    infer = m.forward(t).to_vector();
  }
  double worst = 0;
  for (size_t i = 0; i < train.size(); ++i) worst = std::max(worst, double(std::fabs(train[i] - infer[i])));
  EXPECT_LT(worst, 1e-4);
}

TEST(TextEncoder, PaddingDoesNotChangeValidTokens) {
  TextEncoder m = TextEncoder::init_random(tiny_text_config(), 8, TextEncoderInit::random);
  NoGradGuard g;
  TokenBatch shortb = seeded_tokens({5}, 5, 100, 9), padded = shortb;
  padded.length = 12;
  padded.ids.resize(12, 0);
  padded.mask.resize(12, 0);
  std::vector<float> a = m.forward(shortb).to_vector(), b = m.forward(padded).to_vector();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << i;
}

TEST(TextEncoder, CheckpointedGradientsMatch) {
  for (bool shared : {false, true}) {
    TextEncoderConfig c = tiny_text_config();
    c.shared_pos = shared;
    TextEncoder m = TextEncoder::init_random(c, 21, TextEncoderInit::random);
    TokenBatch t = seeded_tokens({6, 4}, 6, 100, 22);
    std::vector<std::vector<float>> grads[2];
    for (int k = 0; k < 2; ++k) {
      TextEncoderForwardOptions options;
      if (k == 1) options.checkpointing = TextEncoderCheckpointing::blocks;
      for (const Tensor& p : m.parameters()) p.zero_grad();
      backward(mse_loss(m.forward(t, options), Tensor::full({2, 6, 64}, 0.1f)));
      for (const Tensor& p : m.parameters()) grads[k].push_back(p.grad().to_vector());
    }
    auto names = text_encoder_parameter_shapes(c);
    for (size_t i = 0; i < grads[0].size(); ++i) {
      double diff = 0, scale = 0;
      for (size_t j = 0; j < grads[0][i].size(); ++j) {
        diff = std::max(diff, double(std::fabs(grads[0][i][j] - grads[1][i][j])));
        scale = std::max(scale, double(std::fabs(grads[0][i][j])));
      }
      EXPECT_LE(diff, 1e-4 * scale + 1e-9) << names[i].first << (shared ? " (shared)" : "");
    }
  }
}

TEST(TextEncoder, AdamWOverfitsOneBatchInBf16) {
  // 40 steps on one padded batch: the encoder maps its tokens to fixed targets.
  TextEncoder m = TextEncoder::init_random(tiny_text_config(), 12);
  TokenBatch t = seeded_tokens({8, 5}, 8, 100, 13);
  std::vector<float> tv(2 * 8 * 64);
  for (size_t i = 0; i < tv.size(); ++i) tv[i] = float((i * 7919) % 13) / 6.f - 1.f;  // in [-1, 1]
  Tensor target = Tensor::from_vector(tv, {2, 8, 64});
  AdamW opt(m.parameters(), {.lr = 1e-2f, .weight_decay = 0.f});
  TextEncoderForwardOptions options;
  options.compute = DType::bf16;
  float first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    Tensor loss = mse_loss(m.forward(t, options), target);
    backward(loss);
    opt.step();
    opt.zero_grad();
    (step == 0 ? first : last) = loss.item();
  }
  std::printf("  loss %.4f -> %.4f\n", first, last);
  EXPECT_LT(last, 0.2f * first);
}

}  // namespace
}  // namespace kinema::test
