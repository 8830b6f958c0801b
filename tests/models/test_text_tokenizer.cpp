// Tokenizer: the shipped model (models/default/tokenizer.model) round-trips world captions and
// unseen words, pads and truncates with a mask, rejects bad files; training is deterministic.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "error_of.hpp"
#include "kinema/error.hpp"
#include "kinema/tokenizer.hpp"
#include "text_test_util.hpp"

namespace kinema::test {
namespace {
namespace fs = std::filesystem;

const std::string kModel = std::string(KINEMA_SOURCE_DIR) + "/models/default/tokenizer.model";

// sentencepiece's nmt_nfkc cleaning of plain ASCII: runs of spaces collapse, ends are trimmed.
std::string squeeze(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

TEST(Tokenizer, ShippedModelHasT5SpecialIds) {
  Tokenizer t = Tokenizer::load(kModel);
  EXPECT_GE(t.vocab_size(), 2000);
  EXPECT_LE(t.vocab_size(), 4000);
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_EQ(t.unk_id(), 2);
  std::printf("  vocab %lld, model %zu bytes\n", (long long)t.vocab_size(), t.serialized().size());
}

TEST(Tokenizer, HeldOutWorldCaptionsRoundTrip) {
  Tokenizer t = Tokenizer::load(kModel);
  // Seeds far from the training corpus's (1 .. 4000).
  std::vector<std::string> captions = world_captions(200, 900000);
  size_t tokens = 0, chars = 0;
  for (const std::string& c : captions) {
    std::vector<int32_t> ids = t.encode(c);
    ASSERT_EQ(ids.back(), t.eos_id());
    for (int32_t id : ids) ASSERT_NE(id, t.unk_id()) << c;
    EXPECT_EQ(t.decode(ids), squeeze(c));
    tokens += ids.size(), chars += c.size();
  }
  std::printf("  %zu captions: %.2f characters per token\n", captions.size(), double(chars) / double(tokens));
  EXPECT_GT(double(chars) / double(tokens), 3.0);  // a trained vocabulary, not characters
}

TEST(Tokenizer, UnknownWordsFallBackToPiecesAndBytes) {
  Tokenizer t = Tokenizer::load(kModel);
  std::string text = "a crimson dragon zooms über the Zürich skyline 🐉 at 3:45";
  std::vector<int32_t> ids = t.encode(text);
  for (int32_t id : ids) EXPECT_NE(id, t.unk_id());
  EXPECT_EQ(t.decode(ids), text);
  std::vector<std::string> pieces = t.encode_pieces("🐉");
  ASSERT_FALSE(pieces.empty());
  EXPECT_EQ(pieces.back().rfind("<0x", 0), 0u) << pieces.back();  // byte fallback
  EXPECT_EQ(t.decode({}), "");
}

TEST(Tokenizer, BatchesArePaddedAndTruncatedWithAMask) {
  Tokenizer t = Tokenizer::load(kModel);
  std::vector<std::string> texts = {"a red circle moves right", "a blue square", ""};
  TokenBatch b = t.encode_batch(texts);
  ASSERT_EQ(b.batch, 3);
  EXPECT_EQ(b.length, int64_t(t.encode(texts[0]).size()));
  EXPECT_EQ(b.lengths[2], 1);  // eos only
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < b.length; ++j) {
      bool valid = j < b.lengths[size_t(r)];
      EXPECT_EQ(b.mask[size_t(r * b.length + j)], valid ? 1 : 0);
      if (!valid) EXPECT_EQ(b.ids[size_t(r * b.length + j)], t.pad_id());
    }
  EXPECT_EQ(b.ids[size_t(b.lengths[1] - 1) + size_t(b.length)], t.eos_id());

  PadOptions fixed;
  fixed.length = 4;
  TokenBatch c = t.encode_batch({texts[0]}, fixed);
  ASSERT_EQ(c.length, 4);
  EXPECT_EQ(c.lengths[0], 4);
  EXPECT_EQ(c.ids[3], t.eos_id());  // truncated rows keep eos last
  std::vector<int32_t> full = t.encode(texts[0]);
  EXPECT_TRUE(std::equal(c.ids.begin(), c.ids.begin() + 3, full.begin()));
  fixed.length = 512;  // Wan's text_len
  TokenBatch d = t.encode_batch(texts, fixed);
  EXPECT_EQ(d.ids.size(), 3u * 512u);
}

TEST(Tokenizer, MissingAndCorruptFilesAreErrors) {
  std::string e = error_of([] { Tokenizer::load("/nonexistent/tokenizer.model"); });
  EXPECT_NE(e.find("cannot open tokenizer model \"/nonexistent/tokenizer.model\""), std::string::npos) << e;
  fs::path bad = fs::temp_directory_path() / ("kinema-tok-" + std::to_string(::getpid()) + ".model");
  {
    std::ofstream f(bad, std::ios::binary);
    f << "this is not a protobuf \xff\xfe\x01";
  }
  e = error_of([&] { Tokenizer::load(bad.string()); });
  EXPECT_NE(e.find("not a sentencepiece model"), std::string::npos) << e;
  EXPECT_NE(e.find(bad.string()), std::string::npos) << e;
  // A truncated real model.
  std::string bytes = Tokenizer::load(kModel).serialized();
  e = error_of([&] { Tokenizer::from_bytes(bytes.substr(0, bytes.size() / 2)); });
  EXPECT_NE(e.find("not a sentencepiece model"), std::string::npos) << e;
  fs::remove(bad);
  EXPECT_NE(error_of([] { Tokenizer().encode("x"); }).find("tokenizer is empty"), std::string::npos);
  EXPECT_NE(error_of([] { Tokenizer::load(kModel).decode({1 << 20}); }).find("outside the vocabulary"),
            std::string::npos);
}

TEST(Tokenizer, TrainingIsDeterministic) {
  std::vector<std::string> corpus = world_captions(300, 1);
  TokenizerTrainOptions options;
  options.vocab_size = 500;
  auto t0 = std::chrono::steady_clock::now();
  std::string a = train_tokenizer(corpus, options);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string b = train_tokenizer(corpus, options);
  std::printf("  trained vocab %d on %zu sentences in %.2f s\n", options.vocab_size, corpus.size(), s);
  EXPECT_EQ(a, b);
  Tokenizer t = Tokenizer::from_bytes(a);
  EXPECT_EQ(t.vocab_size(), 500);
  EXPECT_EQ(t.decode(t.encode(corpus[0])), squeeze(corpus[0]));
  EXPECT_NE(error_of([] { train_tokenizer({}); }).find("no training sentences"), std::string::npos);
}

}  // namespace
}  // namespace kinema::test
