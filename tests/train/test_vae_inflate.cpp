// inflate_vae_time: an image-trained VAE's untrained time-mixing weights set to the identity in
// time. Images are computed as before; a still video is the image in every frame.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

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

TEST(VaeInflate, ImagesEncodeAndDecodeAsBefore) {
  NoGradGuard no_grad;
  const VAE image = VAE::init_random(tiny_video_vae(), 5, VaeInit::random);
  const VAE video = VAE::from_tensors(inflate_vae_time(image.to_tensors()));
  const Tensor x = seeded({1, 3, 1, 16, 16}, 3);
  EXPECT_LT(relative_error(video.encode(x).mu, image.encode(x).mu), 1e-6);
  const Tensor z = seeded({1, 4, 1, 2, 2}, 4);
  EXPECT_LT(relative_error(video.decode(z), image.decode(z)), 1e-6);
}

TEST(VaeInflate, AStillVideoIsTheImageInEveryFrame) {
  NoGradGuard no_grad;
  const VAE image = VAE::init_random(tiny_video_vae(), 5, VaeInit::random);
  const VAE video = VAE::from_tensors(inflate_vae_time(image.to_tensors()));
  const Tensor frame = seeded({1, 3, 1, 16, 16}, 3);
  const Tensor still = concat(std::vector<Tensor>(9, frame), 2);  // [1, 3, 9, 16, 16]
  const Tensor mu = video.encode(still).mu;                         // [1, 4, 3, 2, 2]
  ASSERT_EQ(mu.size(2), 3);
  const Tensor image_mu = image.encode(frame).mu;
  for (int64_t t = 0; t < 3; ++t) EXPECT_LT(relative_error(slice(mu, 2, t, t + 1), image_mu), 1e-5) << t;
  const Tensor decoded = video.decode(mu);                           // [1, 3, 9, 16, 16]
  ASSERT_EQ(decoded.size(2), 9);
  const Tensor image_decoded = image.decode(image_mu);
  for (int64_t t = 0; t < 9; ++t)
    EXPECT_LT(relative_error(slice(decoded, 2, t, t + 1), image_decoded), 1e-5) << t;
  // Without inflation the random time weights scramble the frames after the first.
  const Tensor raw = image.decode(image.encode(still).mu);
  EXPECT_GT(relative_error(slice(raw, 2, 8, 9), image.decode(image.encode(frame).mu)), 1e-2);
}

TEST(VaeInflate, RefusesWhatIsNotAVae) {
  TensorFile not_vae;
  not_vae.tensors["blocks.0.weight"] = seeded({4, 4}, 1);
  EXPECT_THROW(inflate_vae_time(not_vae), Error);
}

}  // namespace
}  // namespace kinema
