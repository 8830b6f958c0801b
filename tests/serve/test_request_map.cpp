// The API's sizes and durations onto the model's, and rejection of what is not a size or a number.
#include <gtest/gtest.h>

#include "serve/api_error.hpp"
#include "serve/request_map.hpp"

namespace kinema::serve {
namespace {

ModelInfo model() {
  ModelInfo m;
  m.sizes = {{32, 32}, {48, 32}, {32, 48}, {64, 64}}, m.fps = 12, m.max_frames = 721;
  return m;
}

TEST(RequestMap, SizesGoToTheTrainedSizeWithTheNearestAspectRatio) {
  EXPECT_EQ(map_size(model(), "1280x720"), std::make_pair(48, 32));
  EXPECT_EQ(map_size(model(), "720x1280"), std::make_pair(32, 48));
  EXPECT_EQ(map_size(model(), "1024x1024"), std::make_pair(64, 64));  // a tie goes to the larger
  EXPECT_EQ(map_size(model(), "48x32"), std::make_pair(48, 32));
  ModelInfo any;
  EXPECT_EQ(map_size(any, "160x96"), std::make_pair(160, 96));  // no list: as asked
}

TEST(RequestMap, SecondsBecomeOnePlusFourKFramesWithinBounds) {
  EXPECT_EQ(map_frames(model(), "4"), 49);
  EXPECT_EQ(map_frames(model(), "8"), 97);
  EXPECT_EQ(map_frames(model(), "1.1"), 13);
  EXPECT_EQ(map_frames(model(), "0.01"), 5);     // at least one latent step
  EXPECT_EQ(map_frames(model(), "100000"), 721);  // at most max_frames
  EXPECT_EQ(seconds_string(49, 12), "4.08");
  EXPECT_EQ(seconds_string(48, 12), "4");
}

TEST(RequestMap, MalformedValuesAre400NamingTheParameter) {
  for (const char* bad : {"", "1280", "1280x", "x720", "0x720", "-5x5", "12x12x", "1280x720 ", "99999x5"}) {
    try {
      map_size(model(), bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_EQ(e.param, "size");
    }
  }
  for (const char* bad : {"", "four", "0", "-1", "nan", "inf", "4s"}) {
    try {
      map_frames(model(), bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.param, "seconds");
    }
  }
}

}  // namespace
}  // namespace kinema::serve
