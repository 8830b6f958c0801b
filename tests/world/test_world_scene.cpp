// Scene spec (JSON), simulation (physics, events, occlusion, traces), cameras and renderer.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "kinema/error.hpp"
#include "kinema/world.hpp"

using namespace kinema::world;

namespace {

Scene one(Object o, int frames = 24) {
  Scene s;
  s.frames = frames;
  s.background = Background::plain;
  s.bg_top = s.bg_bottom = 1;
  s.objects.push_back(o);
  return s;
}

Object obj(Shape sh, Color c, double x, double y, Behavior b = Behavior::still) {
  Object o;
  o.shape = sh; o.color = c; o.x = x; o.y = y; o.behavior = b;
  return o;
}

}  // namespace

TEST(WorldSpec, JsonRoundTripIsExactForSampledScenes) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const Scene s = sample_scene(seed);
    const std::string j = to_json(s);
    EXPECT_EQ(to_json(scene_from_json(j)), j) << "seed " << seed;
  }
}

TEST(WorldSpec, RejectsUnknownFieldsAndValuesNamingThem) {
  EXPECT_THROW(scene_from_json("{\"widht\": 5}"), kinema::Error);
  try {
    scene_from_json(R"({"objects":[{"shape":"blob"}]})");
    FAIL() << "accepted an unknown shape";
  } catch (const kinema::Error& e) {
    EXPECT_NE(std::string(e.what()).find("blob"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("hexagon"), std::string::npos);  // lists what is allowed
  }
  EXPECT_THROW(scene_from_json("{\"width\": 0}"), kinema::Error);
  EXPECT_THROW(scene_from_json("not json"), kinema::Error);
  EXPECT_THROW(scene_from_json(R"({"objects":[{"behavior":"orbit","target":0}]})"), kinema::Error);
}

TEST(WorldRender, IsDeterministicAndAnySize) {
  for (uint64_t seed : {3u, 17u, 99u}) {
    const Scene s = sample_scene(seed, {37, 21, 7, 5});
    const auto a = render(s), b = render(s);
    ASSERT_EQ(a.size(), 5u);
    EXPECT_EQ(a[0].width, 37);
    EXPECT_EQ(a[0].height, 21);
    for (size_t f = 0; f < a.size(); ++f) EXPECT_EQ(a[f].rgb, b[f].rgb);
  }
  const Scene img = sample_scene(5, {64, 48, 1, 1});
  EXPECT_EQ(render(img).size(), 1u);
}

TEST(WorldRender, EdgesAreAntiAliased) {
  const Scene s = one(obj(Shape::circle, Color::black, 0.5, 0.5), 1);
  const Image f = render(s)[0];
  // Along the row through the centre, some pixels lie strictly between background and black.
  int between = 0;
  const int y = f.height / 2;
  for (int x = 0; x < f.width; ++x) {
    const int r = f.rgb[(y * f.width + x) * 3];
    between += r > 30 && r < 220;
  }
  EXPECT_GE(between, 2);
}

TEST(WorldSimulate, FallingObjectBouncesLowerEachTime) {
  Object o = obj(Shape::circle, Color::red, 0.5, 0.2, Behavior::fall);
  Scene s = one(o, 60);
  s.fps = 24;
  const auto st = simulate(s);
  std::vector<double> peaks;  // heights (1 - y) of the tops between bounces
  for (size_t t = 1; t + 1 < st.size(); ++t) {
    const double y0 = st[t - 1].objects[0].y, y1 = st[t].objects[0].y, y2 = st[t + 1].objects[0].y;
    if (y1 < y0 && y1 <= y2) peaks.push_back(1 - y1);
  }
  ASSERT_GE(peaks.size(), 2u);
  for (size_t i = 1; i < peaks.size(); ++i) EXPECT_LT(peaks[i], peaks[i - 1]);
  for (const auto& f : st) EXPECT_LE(f.objects[0].y, 1 - size_radius(Size::medium) + 1e-6);
}

TEST(WorldSimulate, HeadOnCollisionOfEqualMassesExchangesVelocities) {
  Scene s = one(obj(Shape::circle, Color::red, 0.3, 0.5, Behavior::move), 36);
  s.objects[0].speed = 0.3;
  Object b = obj(Shape::circle, Color::blue, 0.8, 0.5, Behavior::move);
  b.dir = Dir::left;
  b.speed = 0.3;
  s.objects.push_back(b);
  const auto st = simulate(s);
  const auto& e = st.back().objects;
  const auto& p = st[st.size() - 2].objects;
  const double va = (e[0].x - p[0].x) * s.fps, vb = (e[1].x - p[1].x) * s.fps;
  EXPECT_NEAR(va, -0.3, 1e-6);  // bounced back
  EXPECT_NEAR(vb, 0.3, 1e-6);
  EXPECT_NEAR(va + vb, 0.0, 1e-9);  // momentum conserved
}

TEST(WorldSimulate, HitLeavesATraceThatStays) {
  Scene s = one(obj(Shape::circle, Color::red, 0.1, 0.5, Behavior::move), 24);
  s.objects[0].speed = 0.8;
  s.objects[0].size = Size::small;
  s.objects[0].target = 1;
  s.objects[0].effect = Effect::recolor;
  s.objects[0].effect_color = Color::green;
  s.objects.push_back(obj(Shape::square, Color::blue, 0.7, 0.5));
  const auto st = simulate(s);
  EXPECT_EQ(st.front().objects[1].color, Color::blue);
  EXPECT_EQ(st.back().objects[1].color, Color::green);
  int changes = 0;
  for (size_t t = 1; t < st.size(); ++t) changes += st[t].objects[1].color != st[t - 1].objects[1].color;
  EXPECT_EQ(changes, 1);
  EXPECT_NEAR(st.back().objects[1].x, 0.7, 1e-9);  // the block itself did not move
}

TEST(WorldSimulate, OrderedEventsStartInOrder) {
  Scene s = one(obj(Shape::circle, Color::red, 0.3, 0.3, Behavior::move), 24);
  Object b = obj(Shape::square, Color::blue, 0.7, 0.3, Behavior::fall);
  b.start = 1.0;
  b.layer = 1;
  s.objects.push_back(b);
  const auto st = simulate(s);
  EXPECT_GT(st[3].objects[0].x, 0.3);
  EXPECT_DOUBLE_EQ(st[11].objects[1].y, 0.3);  // still waiting at t < 1 s
  EXPECT_GT(st[20].objects[1].y, 0.35);
}

TEST(WorldRender, OccludedObjectIsHiddenThenReappearsUnchanged) {
  Scene s = one(obj(Shape::circle, Color::red, 0.12, 0.5, Behavior::move), 24);
  s.objects[0].size = Size::small;
  s.objects[0].speed = 0.76 / 2;
  Object occ = obj(Shape::square, Color::blue, 0.5, 0.5);
  occ.size = Size::large;
  occ.layer = 1;
  s.objects.push_back(occ);
  const auto frames = render(s);
  auto red_pixels = [](const Image& f) {
    int n = 0;
    for (size_t i = 0; i < f.rgb.size(); i += 3) n += f.rgb[i] > 200 && f.rgb[i + 1] < 60 && f.rgb[i + 2] < 60;
    return n;
  };
  const int start = red_pixels(frames.front()), middle = red_pixels(frames[12]), end = red_pixels(frames.back());
  EXPECT_GT(start, 50);
  EXPECT_EQ(middle, 0);
  EXPECT_NEAR(end, start, start * 0.1);
}

TEST(WorldCamera, PanMovesStillObjectsAcrossTheScreenAndCutsJump) {
  Scene s = one(obj(Shape::square, Color::red, 0.5, 0.5), 24);
  s.camera.motion = CameraMotion::pan_left;
  auto st = simulate(s);
  EXPECT_LT(st.back().camera.cx, st.front().camera.cx);  // camera goes left: the scene slides right
  s.camera = {};
  s.camera.cut = 1.0;
  st = simulate(s);
  EXPECT_EQ(st[11].camera.shot, 0);
  EXPECT_EQ(st[12].camera.shot, 1);
  EXPECT_GT(st[12].camera.zoom, st[11].camera.zoom);
}

TEST(WorldRender, VideoRoundTripThroughFfmpeg) {
  const Scene s = sample_scene(7);
  const auto frames = render(s);
  const std::string path = (std::filesystem::temp_directory_path() / "kinema_world_test.mp4").string();
  write_video_ffmpeg(path, frames, s.fps, 18);
  const auto back = read_video_ffmpeg(path);
  std::filesystem::remove(path);
  ASSERT_EQ(back.size(), frames.size());
  EXPECT_EQ(back[0].width, s.width);
}
