// Text encoder parity against an independent float64 PyTorch reference (t5_reference.py,
// written from the T5/umT5 encoder description), tensor by tensor: token_embedding, each block
// and the final norm, with a padded batch. Error per tensor: max |kinema - ref| / max |ref|,
// over the valid (unpadded) tokens and the padded ones alike. T5's bucket table is compared
// exactly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"
#include "text_test_util.hpp"

namespace kinema::test {
namespace {
namespace fs = std::filesystem;

std::vector<float> as_floats(const std::vector<int32_t>& v) { return {v.begin(), v.end()}; }

// Runs the reference on the model's weights and the tokens; returns its tensors.
TensorFile run_reference(const TextEncoder& model, const TokenBatch& tokens, const std::string& tag) {
  TensorFile in = model.to_tensors();
  in.tensors["input.ids"] = Tensor::from_vector(as_floats(tokens.ids), {tokens.batch, tokens.length});
  in.tensors["input.mask"] = Tensor::from_vector(as_floats(tokens.mask), {tokens.batch, tokens.length});
  fs::path dir = fs::temp_directory_path() / ("kinema-t5-" + std::to_string(::getpid()) + "-" + tag);
  fs::create_directories(dir);
  save_tensors((dir / "in.safetensors").string(), in);
  // KINEMA_T5_REFERENCE swaps in another script with the same interface, e.g. one that runs
  // the official Wan2.1 T5Encoder from a checkout in /tmp (issue 8's golden check).
  const char* other = std::getenv("KINEMA_T5_REFERENCE");
  std::string script = other ? other : std::string(KINEMA_SOURCE_DIR) + "/tests/models/t5_reference.py";
  std::string cmd = std::string(KINEMA_PYTHON) + " " + script + " " + (dir / "in.safetensors").string() + " " +
                    (dir / "out.safetensors").string() + " > " + (dir / "log.txt").string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  TensorFile out;
  if (rc != 0) {
    std::ifstream log(dir / "log.txt");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    ADD_FAILURE() << "t5_reference.py failed (" << rc << "):\n" << text;
  } else {
    out = load_tensors((dir / "out.safetensors").string());
  }
  fs::remove_all(dir);
  return out;
}

double compare(const std::string& tag, const std::string& name, const Tensor& got, const Tensor& ref,
               double tolerance) {
  EXPECT_EQ(got.shape(), ref.shape()) << name;
  if (got.shape() != ref.shape()) return INFINITY;
  std::vector<float> a = got.to_vector(), b = ref.to_vector();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  double rel = diff / std::max(scale, 1e-30);
  std::printf("  [%s] %-16s max diff %.3e  max |ref| %.3e  rel %.3e\n", tag.c_str(), name.c_str(),
              diff, scale, rel);
  EXPECT_LE(rel, tolerance) << name << " in " << tag;
  return rel;
}

void run_parity(const TextEncoderConfig& config, const std::vector<int64_t>& lengths, int64_t L,
                const std::string& tag, DType compute = DType::f32, double tolerance = 1e-4) {
  TextEncoder model = TextEncoder::init_random(config, 7, TextEncoderInit::random);
  TokenBatch tokens = seeded_tokens(lengths, L, config.vocab_size, 11);
  TensorFile ref = run_reference(model, tokens, tag);
  if (ref.tensors.empty()) return;

  NoGradGuard no_grad;
  std::map<std::string, Tensor> trace;
  TextEncoderForwardOptions options;
  options.trace = &trace;
  options.compute = compute;
  Tensor out = model.forward(tokens, options);
  EXPECT_EQ(out.shape(), (Shape{tokens.batch, L, config.dim}));
  for (const auto& [name, r] : ref.tensors) {
    if (name == "buckets") continue;
    auto it = trace.find(name);
    if (it == trace.end()) {
      ADD_FAILURE() << "kinema has no intermediate \"" << name << "\"";
      continue;
    }
    compare(tag, name, it->second, r, tolerance);
  }
  EXPECT_EQ(trace.size() + 1, ref.tensors.size());
  // T5's buckets, exactly, for every relative position -300..300
  std::vector<float> buckets = ref.tensors.at("buckets").to_vector();
  int mismatches = 0;
  for (int64_t rel = -300; rel <= 300; ++rel) {
    int64_t want = int64_t(buckets[size_t(rel + 300)]);
    int64_t got = t5_relative_position_bucket(rel, config.num_buckets, config.max_distance);
    if (got != want && ++mismatches < 5) ADD_FAILURE() << "bucket(" << rel << ") = " << got << ", T5 gives " << want;
  }
  EXPECT_EQ(mismatches, 0) << tag;
}

TEST(TextEncoderParity, PaddedBatchF32MatchesTheReferenceLayerByLayer) {
  run_parity(tiny_text_config(), {13, 6, 1}, 13, "umt5-f32");
}

TEST(TextEncoderParity, LongSequenceCoversTheLogBuckets) {
  // 160 tokens: relative distances past max_distance 128 use the clamped last bucket.
  run_parity(tiny_text_config(), {160, 97}, 160, "long-f32");
}

TEST(TextEncoderParity, SharedPositionBiasAndOtherBucketsMatch) {
  TextEncoderConfig c = tiny_text_config();
  c.shared_pos = true, c.num_buckets = 12, c.max_distance = 20, c.dim_attn = 32, c.num_layers = 3;
  run_parity(c, {9, 30}, 30, "shared-f32");
}

TEST(TextEncoderParity, Bf16ComputeStaysWithinBf16Tolerance) {
  run_parity(tiny_text_config(), {13, 6}, 13, "umt5-bf16", DType::bf16, 2e-2);
}

// Training's gradients: backward of sum(output * g) for every weight (embedding, position-bias
// tables, attention, FFN, norms) against PyTorch autograd through the reference, with padding.
TEST(TextParity, GradientsOfEveryWeightMatchTheReference) {
  TextEncoderConfig c;
  c.vocab_size = 64, c.dim = 16, c.dim_attn = 16, c.ffn_dim = 24, c.num_heads = 2, c.num_layers = 2;
  c.num_buckets = 8, c.max_distance = 16;
  TextEncoder model = TextEncoder::init_random(c, 7, TextEncoderInit::random);
  TokenBatch tokens = seeded_tokens({9, 6}, 9, c.vocab_size, 11);
  std::vector<float> gv(2 * 9 * 16);
  for (size_t i = 0; i < gv.size(); ++i) gv[i] = float(std::sin(0.37 * double(i) + 1.0));
  Tensor g = Tensor::from_vector(gv, {2, 9, 16});
  TensorFile in = model.to_tensors();
  in.tensors["input.ids"] = Tensor::from_vector(as_floats(tokens.ids), {tokens.batch, tokens.length});
  in.tensors["input.mask"] = Tensor::from_vector(as_floats(tokens.mask), {tokens.batch, tokens.length});
  in.tensors["input.g_out"] = g;
  fs::path dir = fs::temp_directory_path() / ("kinema-t5-grad-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  save_tensors((dir / "in.safetensors").string(), in);
  std::string cmd = std::string(KINEMA_PYTHON) + " " + KINEMA_SOURCE_DIR + "/tests/models/t5_reference.py " +
                    (dir / "in.safetensors").string() + " " + (dir / "out.safetensors").string() + " > " +
                    (dir / "log.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "t5_reference.py failed; see " << (dir / "log.txt").string();
  TensorFile ref = load_tensors((dir / "out.safetensors").string());
  fs::remove_all(dir);
  backward(sum(mul(model.forward(tokens), g)));
  for (const auto& [name, shape] : text_encoder_parameter_shapes(c)) {
    auto it = ref.tensors.find("grad." + name);
    ASSERT_NE(it, ref.tensors.end()) << name;
    Tensor got = model.weight(name).grad();
    ASSERT_TRUE(got.defined()) << name << " got no gradient";
    compare("grad", name, got, it->second, 1e-3);
  }
}

}  // namespace
}  // namespace kinema::test
