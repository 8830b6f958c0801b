// keyframe_vae_time: latent frames that are their group's last frame, a decoder that starts
// by interpolating between them.
#include <gtest/gtest.h>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/vae_train.hpp"
#include "vae_test_util.hpp"

namespace kinema {
namespace {

using test::relative_error;
using test::seeded;
using test::tiny_video_vae;

// An inflated VAE (every frame computed alone, groups averaged), then keyframed.
struct Vaes {
  VAE inflated, keyframed;
};
Vaes make_vaes() {
  const VAE image = VAE::init_random(tiny_video_vae(), 5, VaeInit::random);
  const TensorFile inflated = inflate_vae_time(image.to_tensors());
  return {VAE::from_tensors(inflated), VAE::from_tensors(keyframe_vae_time(inflated))};
}

TEST(VaeKeyframe, EachLatentFrameIsTheImageLatentOfItsGroupsLastFrame) {
  NoGradGuard no_grad;
  const Vaes v = make_vaes();
  const Tensor clip = seeded({1, 3, 9, 16, 16}, 3);  // frame 0, then groups 1-4 and 5-8
  const Tensor mu = v.keyframed.encode(clip).mu;     // [1, 4, 3, 2, 2]
  ASSERT_EQ(mu.size(2), 3);
  for (int64_t k = 0; k < 3; ++k) {
    const Tensor image_mu = v.keyframed.encode(slice(clip, 2, 4 * k, 4 * k + 1)).mu;
    EXPECT_LT(relative_error(slice(mu, 2, k, k + 1), image_mu), 1e-5) << k;
  }
  // The inflated VAE's latent frames are not their keyframes (they average the group).
  const Tensor averaged = v.inflated.encode(clip).mu;
  EXPECT_GT(relative_error(slice(averaged, 2, 2, 3), v.inflated.encode(slice(clip, 2, 8, 9)).mu), 1e-2);
}

TEST(VaeKeyframe, AStillVideoEncodesAsBeforeAndDecodesAsTheImageAfterTheFirstGroup) {
  NoGradGuard no_grad;
  const Vaes v = make_vaes();
  const Tensor frame = seeded({1, 3, 1, 16, 16}, 3);
  const Tensor still = concat(std::vector<Tensor>(9, frame), 2);
  const Tensor mu = v.keyframed.encode(still).mu;
  EXPECT_LT(relative_error(mu, v.inflated.encode(still).mu), 1e-5);
  // Interpolating between equal keyframes gives the keyframe. The first group has no keyframe
  // before it at the resamplers (Wan's decoder starts their cache at zero), so it is not.
  const Tensor decoded = v.keyframed.decode(mu), image = v.inflated.decode(slice(mu, 2, 0, 1));
  for (int64_t t = 5; t < 9; ++t) EXPECT_LT(relative_error(slice(decoded, 2, t, t + 1), image), 1e-5) << t;
  EXPECT_GT(relative_error(slice(decoded, 2, 1, 2), image), 1e-3);
}

TEST(VaeKeyframe, DecoderResamplersMoveHalfOfTheEarlierFramesCurrentTapOntoThePreviousInput) {
  const TensorFile before = inflate_vae_time(VAE::init_random(tiny_video_vae(), 7, VaeInit::random).to_tensors());
  const TensorFile after = keyframe_vae_time(before);
  int resamplers = 0;
  for (const auto& [name, w] : after.tensors) {
    const std::vector<float> a = w.to_vector(), b = before.tensors.at(name).to_vector();
    if (name.find(".time_conv.weight") == std::string::npos) {
      EXPECT_EQ(a, b) << name;
      continue;
    }
    ++resamplers;
    const int64_t O = w.size(0), I = w.size(1);
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < I; ++i) {
        const size_t at = size_t((o * I + i) * 3);
        if (name.starts_with("encoder.")) {
          EXPECT_EQ(a[at + 1], 0.f);
          EXPECT_FLOAT_EQ(a[at + 2], b[at + 1] + b[at + 2]);
        } else if (o < I) {
          EXPECT_FLOAT_EQ(a[at + 1], b[at + 1] + 0.5f * b[at + 2]);
          EXPECT_FLOAT_EQ(a[at + 2], 0.5f * b[at + 2]);
        } else {
          EXPECT_EQ(a[at + 1], b[at + 1]);
          EXPECT_EQ(a[at + 2], b[at + 2]);
        }
        EXPECT_EQ(a[at], b[at]);
      }
  }
  EXPECT_EQ(resamplers, 4);
}

TEST(VaeKeyframe, RefusesWhatIsNotAVideoVae) {
  TensorFile not_vae;
  not_vae.tensors["blocks.0.weight"] = seeded({4, 4}, 1);
  EXPECT_THROW(keyframe_vae_time(not_vae), Error);
  VaeConfig images_only = tiny_video_vae();
  images_only.temporal_downsample = {false, false, false};
  try {
    keyframe_vae_time(VAE::init_random(images_only, 1).to_tensors());
    FAIL() << "a VAE without time resamplers was keyframed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not compress time"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kinema
