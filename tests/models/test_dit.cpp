// DiT: gradients reach every parameter, a tiny batch overfits, the config round-trips through
// checkpoint names and shapes, and bad checkpoints or inputs fail with errors naming the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "dit_test_util.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/optim.hpp"

namespace kinema::test {
namespace {

struct Batch {
  Tensor x, t, context, target;
};

Batch tiny_batch(const DiTConfig& c, uint64_t seed) {
  Batch b;
  b.x = seeded({2, c.out_dim, 3, 4, 6}, seed);
  b.t = Tensor::from_vector({250.f, 800.f}, {2});
  b.context = seeded({2, 6, c.text_dim}, seed + 1);
  b.target = seeded({2, c.out_dim, 3, 4, 6}, seed + 2);
  return b;
}

// The error message of fn(), or "" when it does not throw.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DiT, EveryParameterGetsAFiniteNonZeroGradientOfItsShape) {
  DiT model = DiT::init_random(tiny_dit_config(), 5, DiTInit::random);
  Batch b = tiny_batch(model.config(), 10);
  Tensor y = model.forward(b.x, b.t, b.context);
  ASSERT_EQ(y.shape(), b.target.shape());
  backward(mse_loss(y, b.target));
  expect_gradients_everywhere(model.parameters(), dit_parameter_shapes(model.config()));
}

TEST(DiT, CheckpointedBlocksGiveTheSameGradients) {
  std::vector<std::vector<float>> grads[2];
  for (int run = 0; run < 2; ++run) {
    DiT model = DiT::init_random(tiny_dit_config(), 6, DiTInit::random);
    Batch b = tiny_batch(model.config(), 40);
    DiTForwardOptions o;
    std::map<std::string, Tensor> trace;
    o.trace = &trace;
    if (run) o.checkpointing = DiTCheckpointing::blocks;
    Tensor loss = mse_loss(model.forward(b.x, b.t, b.context, o), b.target);
    if (run) {
      ASSERT_TRUE(trace["blocks.1"].grad_fn());
      EXPECT_EQ(trace["blocks.1"].grad_fn()->name, "checkpoint");
    }
    backward(loss);
    for (const Tensor& p : model.parameters()) grads[run].push_back(p.grad().to_vector());
  }
  auto names = dit_parameter_shapes(tiny_dit_config());
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_EQ(grads[0][i].size(), grads[1][i].size());
    for (size_t j = 0; j < grads[0][i].size(); ++j)
      ASSERT_NEAR(grads[0][i][j], grads[1][i][j], 1e-6f + 1e-5f * std::fabs(grads[0][i][j])) << names[i].first;
  }
}

TEST(DiT, OverfitsOneTinyBatchWithBf16Compute) {
  DiT model = DiT::init_random(tiny_dit_config(), 3);  // Wan's init: zero head, zero velocity
  Batch b = tiny_batch(model.config(), 20);
  AdamW opt(model.parameters(), {.lr = 3e-3f, .weight_decay = 0.f});
  DiTForwardOptions options;
  options.compute = DType::bf16;
  std::vector<float> losses;
  auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < 30; ++step) {
    Tensor loss = mse_loss(model.forward(b.x, b.t, b.context, options), b.target);
    losses.push_back(loss.item());
    backward(loss);
    opt.step();
    opt.zero_grad();
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  loss %.4f -> %.4f in 30 steps (%.2f s)\n", losses.front(), losses.back(), s);
  EXPECT_LT(losses.back(), 0.5f * losses.front());
}

TEST(DiT, ConfigRoundTripsThroughCheckpointNamesAndShapes) {
  DiTConfig c = tiny_dit_config();
  c.in_dim = 9;  // frame conditioning widens patch_embedding only
  c.num_layers = 3;
  DiT model = DiT::init_random(c, 1);
  TensorFile file = model.to_tensors();
  std::string path = (std::filesystem::temp_directory_path() / "kinema-dit-roundtrip.safetensors").string();
  save_tensors(path, file);
  TensorFile loaded = load_tensors(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(is_dit_checkpoint(loaded.tensors));
  EXPECT_FALSE(is_dit_checkpoint({{"decoder.conv1.weight", Tensor::zeros({1})}}));
  DiTConfig got = infer_dit_config(loaded.tensors, loaded.metadata);
  EXPECT_EQ(got.dim, c.dim);
  EXPECT_EQ(got.ffn_dim, c.ffn_dim);
  EXPECT_EQ(got.num_heads, c.num_heads);
  EXPECT_EQ(got.num_layers, c.num_layers);
  EXPECT_EQ(got.in_dim, 9);
  EXPECT_EQ(got.out_dim, 4);
  EXPECT_EQ(got.text_dim, c.text_dim);
  EXPECT_EQ(got.freq_dim, c.freq_dim);
  EXPECT_EQ(got.patch_size, c.patch_size);
  EXPECT_TRUE(got.qk_norm && got.cross_attn_norm);

  DiT back = DiT::from_tensors(loaded);
  Batch b = tiny_batch(c, 30);
  DiTForwardOptions o;
  o.condition = seeded({2, 5, 3, 4, 6}, 31);
  NoGradGuard ng;
  EXPECT_EQ(model.forward(b.x, b.t, b.context, o).to_vector(), back.forward(b.x, b.t, b.context, o).to_vector());
  // Wan's own checkpoints carry no metadata: heads = dim / 128.
  c.dim = 256, c.num_heads = 2, c.num_layers = 1;
  TensorFile wan_like = DiT::init_random(c, 1).to_tensors();
  wan_like.metadata.clear();
  EXPECT_EQ(infer_dit_config(wan_like.tensors).num_heads, 2);
}

// Inference weights keep their file dtype: bf16 everywhere, or q8_0 / q4_0 linear weights
// (as GGUF files store them); the output stays close to the f32 model's.
TEST(DiT, RunsBf16AndQuantizedWeights) {
  DiT model = DiT::init_random(tiny_dit_config(), 8, DiTInit::random);
  Batch b = tiny_batch(model.config(), 50);
  NoGradGuard ng;
  std::vector<float> ref = model.forward(b.x, b.t, b.context).to_vector();
  float scale = 0;
  for (float v : ref) scale = std::max(scale, std::fabs(v));
  struct Variant {
    DType weights, compute;
    float tolerance;
  };
  for (Variant v : {Variant{DType::bf16, DType::f32, 1e-2f}, Variant{DType::bf16, DType::bf16, 2e-2f},
                    Variant{DType::q8_0, DType::f32, 2e-2f}, Variant{DType::q8_0, DType::bf16, 3e-2f},
                    Variant{DType::q4_0, DType::f32, 2.5e-1f}}) {
    TensorFile f = model.to_tensors();
    for (auto& [name, t] : f.tensors) {
      bool matmul_weight = t.ndim() == 2 && name.size() > 7 && name.ends_with(".weight");
      if (!is_quantized(v.weights) || matmul_weight) t = cast(t, v.weights);
    }
    DiT loaded = DiT::from_tensors(f);
    EXPECT_EQ(loaded.weight("blocks.0.ffn.0.weight").dtype(), v.weights);
    DiTForwardOptions o;
    o.compute = v.compute;
    std::vector<float> got = loaded.forward(b.x, b.t, b.context, o).to_vector();
    float diff = 0;
    for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, std::fabs(got[i] - ref[i]));
    std::printf("  weights %s, compute %s: max rel error %.3e\n", std::string(dtype_name(v.weights)).c_str(),
                std::string(dtype_name(v.compute)).c_str(), diff / scale);
    EXPECT_LE(diff / scale, v.tolerance) << dtype_name(v.weights) << " weights";
  }
}

TEST(DiT, BadCheckpointsNameTheKey) {
  TensorFile good = DiT::init_random(tiny_dit_config(), 1).to_tensors();
  TensorFile f = good;
  f.tensors.erase("blocks.1.cross_attn.norm_k.weight");
  EXPECT_NE(error_of([&] { DiT::from_tensors(f); }).find("\"blocks.1.cross_attn.norm_k.weight\""), std::string::npos);
  f = good;
  f.tensors.erase("time_embedding.0.weight");
  EXPECT_NE(error_of([&] { DiT::from_tensors(f); }).find("missing tensor \"time_embedding.0.weight\""), std::string::npos);
  f = good;
  f.tensors["blocks.0.ffn.2.weight"] = Tensor::zeros({64, 100});
  std::string e = error_of([&] { DiT::from_tensors(f); });
  EXPECT_NE(e.find("\"blocks.0.ffn.2.weight\" has shape [64, 100]; expected [64, 128]"), std::string::npos) << e;
  f = good;
  f.tensors["blocks.0.cross_attn.k_img.weight"] = Tensor::zeros({64, 64});  // image keys without img_emb
  EXPECT_NE(error_of([&] { DiT::from_tensors(f); }).find("unexpected tensor \"blocks.0.cross_attn.k_img.weight\""),
            std::string::npos);
  f = good;
  f.tensors["blocks.7.extra"] = Tensor::zeros({1});
  EXPECT_NE(error_of([&] { DiT::from_tensors(f); }).find("missing tensor \"blocks.2.modulation\""), std::string::npos);
  f = good;
  f.tensors["unrelated.weight"] = Tensor::zeros({1});
  EXPECT_NE(error_of([&] { DiT::from_tensors(f); }).find("unexpected tensor \"unrelated.weight\""), std::string::npos);
  f = good;
  f.metadata.clear();  // dim 64 is not a multiple of 128
  EXPECT_NE(error_of([&] { DiT::from_tensors(f); }).find("num_heads"), std::string::npos);
}

TEST(DiT, BadInputsSayWhatIsExpected) {
  DiTConfig c = tiny_dit_config();
  DiT model = DiT::init_random(c, 1);
  NoGradGuard ng;
  Tensor t = Tensor::from_vector({1.f}, {1}), ctx = seeded({1, 3, c.text_dim}, 1);
  std::string e = error_of([&] { model.forward(seeded({1, 4, 2, 5, 4}, 1), t, ctx); });
  EXPECT_NE(e.find("not divisible by the patch size 1x2x2"), std::string::npos) << e;
  e = error_of([&] { model.forward(seeded({1, 4, 2, 4, 4}, 1), t, seeded({1, 3, 8}, 1)); });
  EXPECT_NE(e.find("context must be [B, L, text_dim]"), std::string::npos) << e;
  c.in_dim = 9;
  DiT conditioned = DiT::init_random(c, 1);
  e = error_of([&] { conditioned.forward(seeded({1, 4, 2, 4, 4}, 1), t, ctx); });
  EXPECT_NE(e.find("options.condition"), std::string::npos) << e;
  // Any T x H x W the patch divides, including one frame (an image).
  EXPECT_EQ(model.forward(seeded({1, 4, 1, 2, 8}, 1), t, ctx).shape(), (Shape{1, 4, 1, 2, 8}));
}

TEST(DiT, NoFrameConditionIsZerosInTheSlotOrNothingWithoutOne) {
  DiTConfig c = tiny_dit_config();
  EXPECT_FALSE(no_frame_condition(c, {1, 4, 2, 4, 4}).defined());
  c.in_dim = 9;
  Tensor z = no_frame_condition(c, {2, 4, 3, 4, 6});
  EXPECT_EQ(z.shape(), (Shape{2, 5, 3, 4, 6}));
  for (float v : z.to_vector()) ASSERT_EQ(v, 0.f);
  // and the conditioned model accepts it where it refuses no condition
  DiT conditioned = DiT::init_random(c, 1);
  NoGradGuard ng;
  DiTForwardOptions fo;
  fo.condition = no_frame_condition(c, {1, 4, 2, 4, 4});
  Tensor out = conditioned.forward(seeded({1, 4, 2, 4, 4}, 1), Tensor::from_vector({1.f}, {1}),
                                   seeded({1, 3, c.text_dim}, 1), fo);
  EXPECT_EQ(out.shape(), (Shape{1, 4, 2, 4, 4}));
  EXPECT_NE(error_of([&] { no_frame_condition(c, {4, 2, 4, 4}); }).find("[B, C, T, H, W]"), std::string::npos);
}

}  // namespace
}  // namespace kinema::test
