// measure_word_separation: words whose token embeddings coincide are one vector to the DiT
// (cosine 1), synonyms never count as the closest pair, and bad groups are refused.
#include <gtest/gtest.h>

#include <algorithm>

#include "error_of.hpp"
#include "kinema/pipeline.hpp"
#include "kinema/word_separation.hpp"
#include "tiny_bundle.hpp"

namespace kinema {
namespace {

// The tiny bundle's encoder with word b's token embedding row replaced by word a's.
TextEncoder with_same_embedding(const Pipeline& p, const std::string& a, const std::string& b) {
  TensorFile f = p.text_encoder().to_tensors();
  Tensor& e = f.tensors.at("token_embedding.weight");
  std::vector<float> v = e.to_vector();
  const int64_t dim = e.shape()[1];
  const int32_t ia = p.tokenizer().encode(a, {.add_eos = false}).at(0), ib = p.tokenizer().encode(b, {.add_eos = false}).at(0);
  std::copy_n(&v[size_t(ia * dim)], dim, &v[size_t(ib * dim)]);
  e = Tensor::from_vector(v, e.shape());
  return TextEncoder::from_tensors(f);
}

WordGroup shapes() {
  return {"shape", "We see a big yellow @ at the center of the frame.", {"circle", "disc", "star", "heart", "cross"}, {0, 0, 1, 2, 3}};
}

TEST(WordSeparation, WordsWithOneTokenEmbeddingAreOneVectorAndTheClosestPair) {
  const Pipeline p = Pipeline::load(tiny_bundle().string());
  const WordSeparation before = measure_word_separation(p.tokenizer(), p.text_encoder(), shapes());
  EXPECT_LT(before.max_cosine, 0.999);
  const WordSeparation after = measure_word_separation(p.tokenizer(), with_same_embedding(p, "heart", "cross"), shapes());
  const size_t n = 5;
  EXPECT_NEAR(after.cosine[3 * n + 4], 1.0, 1e-6);
  EXPECT_NEAR(after.max_cosine, 1.0, 1e-6);
  EXPECT_EQ(after.closest_a + "/" + after.closest_b, "heart/cross");
  EXPECT_NE(std::find(after.collapsed.begin(), after.collapsed.end(), std::pair<size_t, size_t>{3, 4}),
            after.collapsed.end());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(after.cosine[i * n + i], 1.0);
    for (size_t j = 0; j < n; ++j) EXPECT_NEAR(after.cosine[i * n + j], after.cosine[j * n + i], 1e-12);
  }
}

TEST(WordSeparation, SynonymsMayCoincideWithoutBeingReported) {
  const Pipeline p = Pipeline::load(tiny_bundle().string());
  const WordSeparation s = measure_word_separation(p.tokenizer(), with_same_embedding(p, "circle", "disc"), shapes());
  EXPECT_NEAR(s.cosine[0 * 5 + 1], 1.0, 1e-6);
  EXPECT_LT(s.max_cosine, 0.999);
  EXPECT_FALSE(s.closest_a == "circle" && s.closest_b == "disc");
  EXPECT_EQ(std::find(s.collapsed.begin(), s.collapsed.end(), std::pair<size_t, size_t>{0, 1}), s.collapsed.end());
}

TEST(WordInfluence, AWordSwapChangesTheVelocityUnlessTheWordsShareAnEmbedding) {
  const Pipeline p = Pipeline::load(tiny_bundle().string());
  const Shape latent{1, p.dit().config().out_dim, 1, 4, 4};
  const WordInfluence before = measure_word_influence(p.dit(), p.tokenizer(), p.text_encoder(), shapes(), 0.8f, latent);
  const size_t n = 5;
  ASSERT_EQ(before.change.size(), n * n);
  EXPECT_GT(before.change[3 * n + 4], 1e-4);  // heart vs cross: a random DiT still reads its caption
  EXPECT_GT(before.mean_change, 0);
  const TextEncoder same = with_same_embedding(p, "heart", "cross");
  const WordInfluence after = measure_word_influence(p.dit(), p.tokenizer(), same, shapes(), 0.8f, latent);
  EXPECT_EQ(after.change[3 * n + 4], 0.0);  // the same context: the same velocity, bit for bit
  EXPECT_EQ(after.least_change, 0.0);
  EXPECT_EQ(after.least_a + "/" + after.least_b, "heart/cross");
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(after.change[i * n + i], 0.0);
    for (size_t j = 0; j < n; ++j) EXPECT_EQ(after.change[i * n + j], after.change[j * n + i]);
  }
  // The pairs' mean is over different meanings only: circle/disc (one meaning) is left out.
  double sum = 0;
  int pairs = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j)
      if (!(i == 0 && j == 1)) sum += after.change[i * n + j], ++pairs;
  EXPECT_NEAR(after.mean_change, sum / pairs, 1e-12);
  const std::string bad = test::error_of([&] {
    measure_word_influence(p.dit(), p.tokenizer(), p.text_encoder(), shapes(), 0.8f, {1, 3, 1, 4, 4});
  });
  EXPECT_NE(bad.find("the latent must be"), std::string::npos) << bad;
}

TEST(WordSeparation, WorldGroupsCoverEveryShapeColourAndCountAndBadGroupsAreRefused) {
  const std::vector<WordGroup> g = world_word_groups();
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[0].meaning.back() + 1, world::kShapeCount);
  EXPECT_EQ(int(g[1].words.size()), world::kColorCount);
  for (const WordGroup& w : g) EXPECT_EQ(w.words.size(), w.meaning.size()) << w.name;
  const Pipeline p = Pipeline::load(tiny_bundle().string());
  const std::string no_slot = test::error_of([&] {
    measure_word_separation(p.tokenizer(), p.text_encoder(), {"x", "no slot here", {"a", "b"}, {0, 1}});
  });
  EXPECT_NE(no_slot.find("has no '@'"), std::string::npos) << no_slot;
  const std::string one = test::error_of([&] {
    measure_word_separation(p.tokenizer(), p.text_encoder(), {"x", "a @", {"a"}, {0}});
  });
  EXPECT_NE(one.find("two words or more"), std::string::npos) << one;
}

}  // namespace
}  // namespace kinema
