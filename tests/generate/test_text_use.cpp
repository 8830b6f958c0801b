// measure_text_use: deterministic losses for every noise level, equal for all three captions
// when the DiT cannot see text, and clear errors for bad options.
#include <gtest/gtest.h>

#include <cmath>

#include "error_of.hpp"
#include "kinema/text_use.hpp"
#include "tiny_bundle.hpp"

namespace kinema {
namespace {

// The same bundle with the DiT's text embedding zeroed: no path from the caption.
Pipeline without_text(const Pipeline& p) {
  TensorFile f = p.dit().to_tensors();
  for (const char* k : {"text_embedding.2.weight", "text_embedding.2.bias"})
    f.tensors[k] = Tensor::zeros(f.tensors.at(k).shape());
  const std::string dir = tiny_bundle().string();
  return Pipeline::from_models(p.manifest(), Tokenizer::load(dir + "/" + p.manifest().tokenizer.path),
                               TextEncoder::from_tensors(p.text_encoder().to_tensors()),
                               VAE::from_tensors(p.vae().to_tensors()), DiT::from_tensors(f));
}

TextUseOptions small() {
  TextUseOptions o;
  o.clips = 2, o.width = 32, o.height = 32, o.frames = 5;
  o.t = {0.5f, 0.97f};
  return o;
}

TEST(TextUse, GivesOneFiniteRowPerNoiseLevelAndTheSameTwice) {
  const Pipeline p = Pipeline::load(tiny_bundle().string());
  const std::vector<TextUseRow> a = measure_text_use(p, small()), b = measure_text_use(p, small());
  ASSERT_EQ(a.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].t, small().t[i]);
    for (double v : {a[i].own, a[i].other, a[i].empty, a[i].swapped, a[i].object_own, a[i].object_swapped,
                     a[i].object_mirrored})
      EXPECT_TRUE(std::isfinite(v) && v > 0) << v;
    EXPECT_EQ(a[i].own, b[i].own);
    EXPECT_EQ(a[i].other, b[i].other);
    EXPECT_EQ(a[i].object_swapped, b[i].object_swapped);
    EXPECT_NE(a[i].object_own, a[i].own);  // the objects' positions alone
  }
  EXPECT_NE(a[0].own, a[0].other);  // this random DiT reads its (random) text
}

TEST(TextUse, PerLatentFrameLossAveragesToTheWholeAndGuidanceVanishesWithoutText) {
  const Pipeline p = Pipeline::load(tiny_bundle().string());
  const TextUseOptions o = small();
  const int64_t latent_frames = 1 + (o.frames - 1) / p.vae().config().temporal_compression();
  for (const TextUseRow& r : measure_text_use(p, o)) {
    ASSERT_EQ(int64_t(r.own_by_frame.size()), latent_frames);
    ASSERT_EQ(r.guidance_by_frame.size(), r.own_by_frame.size());
    double mean = 0;
    for (size_t f = 0; f < r.own_by_frame.size(); ++f) {
      mean += r.own_by_frame[f] / double(latent_frames);
      EXPECT_GT(r.guidance_by_frame[f], 0) << "this random DiT reads its text, frame " << f;
    }
    EXPECT_NEAR(mean, r.own, 1e-6 * r.own) << r.t;  // every latent frame has as many positions (float errors)
  }
  // No path from the text: the conditional and empty-caption velocities agree, so does guidance.
  const Pipeline blind = without_text(p);
  for (const TextUseRow& r : measure_text_use(blind, o))
    for (size_t k = 0; k < r.guidance_by_frame.size(); ++k) EXPECT_LT(r.guidance_by_frame[k], 1e-10 * r.own) << r.t;
}

TEST(TextUse, ADiTThatCannotSeeTextGivesEqualLosses) {
  const Pipeline p = Pipeline::load(tiny_bundle().string());
  const Pipeline blind = without_text(p);
  // Equal up to rounding: attention over captions of other lengths sums in another order.
  for (const TextUseRow& r : measure_text_use(blind, small())) {
    EXPECT_NEAR(r.own, r.other, 1e-6 * r.own) << r.t;
    EXPECT_NEAR(r.own, r.empty, 1e-6 * r.own) << r.t;
    EXPECT_NEAR(r.own, r.swapped, 1e-6 * r.own) << r.t;
    EXPECT_NEAR(r.object_own, r.object_swapped, 1e-6 * r.object_own) << r.t;
    EXPECT_NEAR(r.object_own, r.object_mirrored, 1e-6 * r.object_own) << r.t;
  }
  const std::vector<TextUseRow> seeing = measure_text_use(p, small());
  EXPECT_GT(std::fabs(seeing[0].own - seeing[0].other), 1e-4 * seeing[0].own);  // a difference the bound sees
  // Renaming a shape changes a word or two of the caption: smaller, still ten times the blind bound.
  EXPECT_GT(std::fabs(seeing[0].object_own - seeing[0].object_swapped), 1e-5 * seeing[0].object_own);
  EXPECT_GT(std::fabs(seeing[0].object_own - seeing[0].object_mirrored), 1e-5 * seeing[0].object_own);
}

TEST(TextUse, MeasuresOnTrainingSetClipsWhenAskedAndTheSameTwice) {
  const Pipeline p = Pipeline::load(tiny_bundle().string());
  TextUseOptions o = small();
  o.t = {0.5f};
  o.training_index = 3;
  const std::vector<TextUseRow> a = measure_text_use(p, o), b = measure_text_use(p, o);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(std::isfinite(a[0].own) && a[0].own > 0) << a[0].own;
  EXPECT_EQ(a[0].own, b[0].own);
  o.training_index = 5;  // other clips, other losses
  EXPECT_NE(measure_text_use(p, o)[0].own, a[0].own);
  o.training_index = std::nullopt;  // fresh scenes
  EXPECT_NE(measure_text_use(p, o)[0].own, a[0].own);
}

TEST(TextUse, BadOptionsSayWhatIsExpected) {
  const Pipeline p = Pipeline::load(tiny_bundle().string());
  TextUseOptions o = small();
  o.clips = 1;
  EXPECT_NE(test::error_of([&] { measure_text_use(p, o); }).find("at least 2 clips"), std::string::npos);
  o = small();
  o.t = {1.f};
  EXPECT_NE(test::error_of([&] { measure_text_use(p, o); }).find("must lie in (0, 1)"), std::string::npos);
  o = small();
  o.training_index = -2;
  EXPECT_NE(test::error_of([&] { measure_text_use(p, o); }).find("index must be >= 0"), std::string::npos);
}

}  // namespace
}  // namespace kinema
