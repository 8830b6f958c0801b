// The text encoder's masked-token pretraining: masking statistics, the tied-head loss by hand,
// a tiny encoder learning world captions, bit-identical resume, the caption data (never a
// held-out scene) and the command's flag errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/text_train.hpp"
#include "kinema/world_captions.hpp"

namespace kinema::cli {
int cmd_train(int argc, char** argv);
}

namespace fs = std::filesystem;

namespace kinema {
namespace {

const std::string kTokenizer = std::string(KINEMA_SOURCE_DIR) + "/models/default/tokenizer.model";

const Tokenizer& tokenizer() {
  static const Tokenizer t = Tokenizer::load(kTokenizer);
  return t;
}

fs::path temp_dir(const char* name) {
  fs::path p = fs::temp_directory_path() /
               (std::string("kinema_text_train_") + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

// Captions of known classes over a tiny vocabulary: ids 10.. are words, every 3rd one
// "emphasised" (colour), eos last.
class FakeCaptions final : public CaptionSource {
 public:
  int64_t size() const override { return 64; }
  CaptionSample get(int64_t index) const override {
    CaptionSample s;
    const int64_t n = 5 + index % 13;
    for (int64_t i = 0; i < n; ++i) {
      s.ids.push_back(int32_t(10 + (index * 7 + i * 3) % 50));
      s.classes.push_back(i % 3 == 0 ? WordClass::colour : WordClass::other);
    }
    s.ids.push_back(1), s.classes.push_back(WordClass::other);
    return s;
  }
};

MaskingOptions tiny_masking() {
  MaskingOptions m;
  m.mask_id = 3, m.random_first = 10;
  return m;
}

TEST(Masking, FifteenPercentSplitEightyTenTenNeverPaddingOrEos) {
  FakeCaptions data;
  TrainRng rng(7, 1);
  int64_t maskable = 0, chosen = 0, emph_tokens = 0, emph_chosen = 0;
  int64_t n_mask = 0, n_random = 0, n_keep = 0;
  for (int rep = 0; rep < 400; ++rep) {
    std::vector<CaptionSample> samples;
    for (int i = 0; i < 8; ++i) samples.push_back(data.get((rep * 8 + i) % data.size()));
    MaskedBatch b = make_masked_batch(samples, tiny_masking(), 64, rng);
    for (const auto& s : samples) {
      maskable += int64_t(s.ids.size()) - 1;
      for (size_t i = 0; i + 1 < s.ids.size(); ++i) emph_tokens += s.classes[i] != WordClass::other;
    }
    ASSERT_EQ(b.positions.size(), b.targets.size());
    for (size_t j = 0; j < b.positions.size(); ++j) {
      const int64_t p = b.positions[j], row = p / b.tokens.length, col = p % b.tokens.length;
      ASSERT_EQ(b.tokens.mask[size_t(p)], 1) << "padding masked";
      ASSERT_LT(col, b.tokens.lengths[size_t(row)]);
      const CaptionSample& s = samples[size_t(row)];
      ASSERT_EQ(b.targets[j], s.ids[size_t(col)]);
      ASSERT_NE(b.targets[j], 1) << "eos masked";
      ASSERT_EQ(b.classes[j], s.classes[size_t(col)]);
      const int32_t in = b.tokens.ids[size_t(p)];
      if (b.actions[j] == MaskAction::mask) {
        ++n_mask;
        ASSERT_EQ(in, 3);
      } else if (b.actions[j] == MaskAction::random) {
        ++n_random;
        ASSERT_GE(in, 10);
        ASSERT_LT(in, 64);
      } else {
        ++n_keep;
        ASSERT_EQ(in, b.targets[j]);
      }
      ++chosen;
      emph_chosen += b.classes[j] != WordClass::other;
    }
    // Everything not chosen is the caption itself; padding stays pad with mask 0.
    for (int64_t r = 0; r < b.tokens.batch; ++r)
      for (int64_t c = b.tokens.lengths[size_t(r)]; c < b.tokens.length; ++c) {
        ASSERT_EQ(b.tokens.ids[size_t(r * b.tokens.length + c)], 0);
        ASSERT_EQ(b.tokens.mask[size_t(r * b.tokens.length + c)], 0);
      }
  }
  const double frac = double(chosen) / double(maskable);
  EXPECT_NEAR(frac, 0.15, 0.01);
  EXPECT_NEAR(double(n_mask) / double(chosen), 0.8, 0.02);
  EXPECT_NEAR(double(n_random) / double(chosen), 0.1, 0.015);
  EXPECT_NEAR(double(n_keep) / double(chosen), 0.1, 0.015);
  // Colour words (a third of the tokens) are chosen at twice the rate of the others.
  const double p_emph = double(emph_chosen) / double(emph_tokens);
  const double p_other = double(chosen - emph_chosen) / double(maskable - emph_tokens);
  EXPECT_NEAR(p_emph / p_other, 2.0, 0.15);
}

TEST(Masking, OptionsForKinemasTokenizerUseTheNulBytePiece) {
  const MaskingOptions m = masking_for(tokenizer());
  EXPECT_EQ(tokenizer().piece(m.mask_id), "<0x00>");
  EXPECT_EQ(m.mask_id, 3);
  EXPECT_EQ(m.random_first, 259);
  EXPECT_EQ(tokenizer().piece(258), "<0xFF>");
  EXPECT_EQ(m.pad_id, 0);
  EXPECT_EQ(m.eos_id, 1);
  // No caption ever tokenizes to the mask id.
  world::CaptionDataset data(tokenizer());
  for (int64_t i = 0; i < 200; ++i)
    for (int32_t id : data.get(i).ids) ASSERT_NE(id, m.mask_id);
}

TEST(Masking, BadOptionsAreErrors) {
  TrainRng rng(1);
  FakeCaptions data;
  MaskingOptions m = tiny_masking();
  m.mask_id = 64;
  EXPECT_THROW(make_masked_batch({data.get(0)}, m, 64, rng), Error);
  m = tiny_masking();
  m.replace_mask = 0.95f;
  EXPECT_THROW(make_masked_batch({data.get(0)}, m, 64, rng), Error);
  EXPECT_THROW(make_masked_batch({}, tiny_masking(), 64, rng), Error);
}

TEST(Masking, TruncationKeepsEosAndAShortBatchStillPredictsOneToken) {
  FakeCaptions data;
  TrainRng rng(2);
  MaskedBatch b = make_masked_batch({data.get(12)}, tiny_masking(), 64, rng, 6);
  EXPECT_EQ(b.tokens.length, 6);
  EXPECT_EQ(b.tokens.ids[5], 1);
  CaptionSample one;
  one.ids = {20, 1}, one.classes = {WordClass::other, WordClass::other};
  MaskedBatch c = make_masked_batch({one}, tiny_masking(), 64, rng);
  ASSERT_EQ(c.positions.size(), 1u);
  EXPECT_EQ(c.targets[0], 20);
}

TextEncoderConfig micro() {
  TextEncoderConfig c;
  c.vocab_size = 64, c.dim = 8, c.dim_attn = 8, c.num_heads = 2, c.ffn_dim = 16;
  c.num_layers = 1, c.num_buckets = 8, c.max_distance = 16;
  return c;
}

TEST(TiedHead, LossEqualsAHandComputation) {
  TextEncoder model = TextEncoder::init_random(micro(), 5, TextEncoderInit::random);
  FakeCaptions data;
  TrainRng rng(3);
  MaskingOptions m = tiny_masking();
  m.mask_fraction = 0.5f;  // a few positions per row
  MaskedBatch b = make_masked_batch({data.get(1), data.get(4)}, m, 64, rng);
  ASSERT_GE(b.positions.size(), 2u);
  const float loss = masked_token_loss(model, b).item();
  // By hand: the encoder's outputs at the chosen positions, dotted with every embedding row,
  // over sqrt(dim), then the mean negative log-softmax of the targets.
  const std::vector<float> h = model.forward(b.tokens).to_vector();
  const std::vector<float> E = model.weight("token_embedding.weight").to_vector();
  const int64_t D = 8, V = 64;
  double total = 0;
  for (size_t j = 0; j < b.positions.size(); ++j) {
    std::vector<double> z(static_cast<size_t>(V));
    double zmax = -1e30;
    for (int64_t v = 0; v < V; ++v) {
      double d = 0;
      for (int64_t k = 0; k < D; ++k) d += double(h[size_t(b.positions[j] * D + k)]) * E[size_t(v * D + k)];
      z[size_t(v)] = d / std::sqrt(double(D));
      zmax = std::max(zmax, z[size_t(v)]);
    }
    double se = 0;
    for (double x : z) se += std::exp(x - zmax);
    total += -(z[size_t(b.targets[j])] - zmax - std::log(se));
  }
  EXPECT_NEAR(loss, total / double(b.positions.size()), 1e-5 * std::max(1.0, std::abs(total)));
}

TEST(TiedHead, GradientsReachTheEmbeddingThroughBothPaths) {
  TextEncoder model = TextEncoder::init_random(micro(), 5);
  FakeCaptions data;
  TrainRng rng(4);
  MaskedBatch b = make_masked_batch({data.get(2)}, tiny_masking(), 64, rng);
  backward(masked_token_loss(model, b));
  for (const Tensor& p : model.parameters()) {
    ASSERT_TRUE(p.grad().defined());
    double s = 0;
    for (float g : p.grad().to_vector()) s += std::abs(g);
    EXPECT_GT(s, 0);
  }
}

TEST(CaptionData, NeverAHeldOutSceneAndAPureFunctionOfTheIndex) {
  world::CaptionDatasetOptions o;
  int held_out_in_raw_stream = 0, short_prompts = 0, images = 0;
  std::set<std::pair<int, int>> sizes;
  const int n = 400;
  for (int64_t i = 0; i < n; ++i) {
    const world::CaptionPick p = world::pick_caption(o, i);
    ASSERT_FALSE(world::is_held_out(p.scene)) << i;
    short_prompts += p.short_prompt;
    images += p.scene.frames == 1;
    if (p.scene.frames != 1) {
      EXPECT_EQ(p.scene.frames, 25);
    }
    sizes.insert({p.scene.width, p.scene.height});
    EXPECT_EQ(world::pick_caption(o, i).text, p.text);
    held_out_in_raw_stream += world::is_held_out(world::sample_scene(uint64_t(i) + 1000));
  }
  EXPECT_GT(held_out_in_raw_stream, 0) << "the test would not notice a held-out scene";
  EXPECT_NEAR(double(short_prompts) / n, 0.3, 0.07);
  EXPECT_NEAR(double(images) / n, 0.25, 0.07);
  EXPECT_EQ(sizes.size(), 3u);
  // The held-out evaluation set is another stream.
  world::CaptionDataset train(tokenizer()), heldout = world::heldout_caption_set(tokenizer(), 50);
  EXPECT_EQ(heldout.size(), 50);
  std::set<std::string> train_texts;
  for (int64_t i = 0; i < 50; ++i) train_texts.insert(train.get(i).text);
  int same = 0;
  for (int64_t i = 0; i < 50; ++i) same += train_texts.count(heldout.get(i).text) > 0;
  EXPECT_LT(same, 10);  // only the shortest prompts ("3 red hexagons") can coincide
}

TEST(CaptionData, WordClassesComeFromTheLexicon) {
  const Tokenizer& t = tokenizer();
  const std::vector<int32_t> ids = t.encode("A small red circle moves left, above the big blue box on lavender.");
  const std::vector<WordClass> c = world::caption_word_classes(t, ids);
  ASSERT_EQ(c.size(), ids.size());
  std::map<std::string, WordClass> by_word;
  // Rebuild the words from the pieces, as the classifier does.
  std::string word;
  WordClass cls = WordClass::other;
  auto flush = [&] {
    if (!word.empty()) by_word[word] = cls;
    word.clear();
  };
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    std::string p = t.piece(ids[i]);
    if (p.rfind("\xe2\x96\x81", 0) == 0) flush(), p = p.substr(3);
    word += p, cls = c[i];
  }
  flush();
  EXPECT_EQ(by_word["red"], WordClass::colour);
  EXPECT_EQ(by_word["blue"], WordClass::colour);
  EXPECT_EQ(by_word["lavender."], WordClass::colour);
  EXPECT_EQ(by_word["circle"], WordClass::shape);
  EXPECT_EQ(by_word["box"], WordClass::shape);
  EXPECT_EQ(by_word["small"], WordClass::spatial);
  EXPECT_EQ(by_word["big"], WordClass::spatial);
  EXPECT_EQ(by_word["left,"], WordClass::spatial);
  EXPECT_EQ(by_word["above"], WordClass::spatial);
  EXPECT_EQ(by_word["moves"], WordClass::other);
  EXPECT_EQ(by_word["the"], WordClass::other);
  EXPECT_EQ(c.back(), WordClass::other);  // eos
}

TextEncoderConfig tiny() {
  TextEncoderConfig c;
  c.vocab_size = 2048, c.dim = 64, c.dim_attn = 64, c.num_heads = 2, c.ffn_dim = 128;
  c.num_layers = 2, c.num_buckets = 16, c.max_distance = 64;
  return c;
}

TextTrainerOptions tiny_options(int64_t steps) {
  TextTrainerOptions o;
  o.batch_size = 8;
  o.lr = LrSchedule{5e-3f, 5, steps, 0.1f};
  o.adamw.weight_decay = 0.f;
  o.ema_decay = 0.f;
  o.seed = 3;
  o.masking = masking_for(tokenizer());
  o.max_length = 48;
  return o;
}

TEST(TextTrainer, ATinyEncoderLearnsWorldCaptions) {
  const int kSteps = 100;
  world::CaptionDataset data(tokenizer());
  const world::CaptionDataset heldout = world::heldout_caption_set(tokenizer(), 48);
  TextEncoder model = TextEncoder::init_random(tiny(), 1);
  TextEvalOptions eval;
  eval.max_length = 48;
  const MaskedAccuracy before = evaluate_masked_accuracy(model, heldout, eval);
  TextTrainer trainer(model, data, tiny_options(kSteps));
  std::vector<float> losses;
  for (int i = 0; i < kSteps; ++i) losses.push_back(trainer.step().loss);
  const MaskedAccuracy after = evaluate_masked_accuracy(model, heldout, eval);
  std::printf("before: %s\nafter:  %s\nloss %.3f -> %.3f\n", before.summary().c_str(),
              after.summary().c_str(), losses.front(), losses.back());
  EXPECT_LT(before.overall(), 0.02);  // chance is 1/2048
  EXPECT_GT(after.overall(), 0.05);  // > 100x chance (the frequent words first)
  EXPECT_LT(after.loss, before.loss - 2.0);
  double late = 0;
  for (int i = kSteps - 10; i < kSteps; ++i) late += losses[size_t(i)] / 10;
  EXPECT_LT(late, losses.front() - 2.0);
}

TEST(TextTrainer, ResumeGivesTheSameLossesAndWeightsBitForBit) {
  world::CaptionDataset data(tokenizer());
  TextEncoderConfig cfg = tiny();
  cfg.num_layers = 1;
  TextTrainerOptions o = tiny_options(6);
  o.batch_size = 2, o.accumulation = 2, o.ema_decay = 0.9f;
  const fs::path dir = temp_dir("resume");
  std::vector<float> straight, resumed;
  TextEncoder a = TextEncoder::init_random(cfg, 1);
  {
    TextTrainer t(a, data, o);
    for (int i = 0; i < 6; ++i) straight.push_back(t.step().loss);
  }
  {
    TextEncoder b = TextEncoder::init_random(cfg, 1);
    TextTrainer t(b, data, o);
    for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
    EXPECT_EQ(fs::path(t.save(dir.string())).filename(), "step-00000003");
  }
  TextEncoder c = TextEncoder::init_random(cfg, 99);
  TextTrainer t(c, data, o);
  t.load(dir.string());
  EXPECT_EQ(t.steps_done(), 3);
  EXPECT_EQ(t.data_position(), 3 * 4);
  for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
  EXPECT_EQ(straight, resumed);
  std::vector<Tensor> pa = a.parameters(), pc = c.parameters();
  for (size_t i = 0; i < pa.size(); ++i) ASSERT_EQ(pa[i].to_vector(), pc[i].to_vector()) << i;
  // The EMA is a plain TextEncoder checkpoint.
  TextEncoder ema = TextEncoder::from_tensors(t.ema_tensors());
  EXPECT_EQ(ema.config().num_layers, 1);
  fs::remove_all(dir);
}

int train_text_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"train", "text"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_train(int(argv.size()), argv.data());
}

std::string error_of(std::vector<std::string> args) {
  try {
    train_text_cli(std::move(args));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CliTrainText, BadFlagsGiveClearErrors) {
  EXPECT_NE(error_of({"--steps", "2"}).find("--out DIR is required"), std::string::npos);
  EXPECT_NE(error_of({"--out", "x", "--steps", "0"}).find("--steps must be positive"), std::string::npos);
  EXPECT_NE(error_of({"--out", "x", "--batch", "0"}).find("--batch must be positive"), std::string::npos);
  EXPECT_NE(error_of({"--out", "x", "--compute", "fp8"}).find("--compute needs f32|bf16|auto; got 'fp8'"), std::string::npos);
  EXPECT_NE(error_of({"--out", "x", "--mask", "1.5"}).find("--mask must be in (0, 1]"), std::string::npos);
  EXPECT_NE(error_of({"--out", "x", "--lr", "fast"}).find("--lr needs X; got 'fast'"), std::string::npos);
  EXPECT_NE(error_of({"--out", "x", "--frobnicate"}).find("unknown option '--frobnicate'"), std::string::npos);
  EXPECT_NE(error_of({"--out", "x", "--eval-every", "-1"}).find("--eval-every must be >= 0"), std::string::npos);
  EXPECT_NE(error_of({"--out", "x", "--tokenizer", "/nonexistent.model"}).find("/nonexistent.model"),
            std::string::npos);
  const fs::path dir = temp_dir("noresume");
  EXPECT_NE(error_of({"--out", dir.string(), "--resume"}).find("--resume: no checkpoint in"), std::string::npos);
}

TEST(CliTrainText, RunsSavesAndTheEmaLoadsAsBf16) {
  const fs::path dir = temp_dir("cli");
  const std::string tok = kTokenizer;
  EXPECT_EQ(train_text_cli({"--steps", "2", "--out", dir.string(), "--tokenizer", tok, "--dim", "32",
                            "--dim-attn", "32", "--heads", "2", "--ffn", "64", "--layers", "1",
                            "--batch", "2", "--eval-every", "1", "--eval-captions", "4"}),
            0);
  TensorFile ema = load_tensors(find_checkpoint(dir.string()) + "/ema.safetensors");
  const TextEncoder f32 = TextEncoder::from_tensors(ema);
  EXPECT_EQ(f32.config().vocab_size, 2048);
  EXPECT_EQ(f32.config().dim, 32);
  for (auto& [name, t] : ema.tensors) t = cast(t, DType::bf16);
  const TextEncoder bf16 = TextEncoder::from_tensors(ema, TextEncoderLoadOptions{false});
  const TokenBatch tokens = tokenizer().encode_batch({"a red circle left of a blue square", "3 red hexagons"});
  const std::vector<float> x = f32.forward(tokens).to_vector(), y = bf16.forward(tokens).to_vector();
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) err += (x[i] - y[i]) * (x[i] - y[i]), ref += x[i] * x[i];
  EXPECT_LT(std::sqrt(err / ref), 0.05);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kinema
