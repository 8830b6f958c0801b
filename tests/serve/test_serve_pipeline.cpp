// The real model path behind the queue (tiny random bundle): a job ends as a C2PA-signed MP4 of
// the mapped size and length with a signed thumbnail and sprite sheet, exactly as `kinema
// generate` writes files; a prompt the policy refuses fails the job naming the rule.
#include <cstdlib>
#include <fstream>

#include "kinema/c2pa.hpp"
#include "kinema/media.hpp"
#include "kinema/modes.hpp"
#include "serve_renderer.hpp"
#include "serve_test_util.hpp"
#include "tiny_bundle.hpp"

namespace kinema::serve::test {
namespace {

std::unique_ptr<Running> start_tiny(const fs::path& dir) {
  ::setenv("KINEMA_CONFIG_DIR", (dir / "config").c_str(), 1);  // the local signing identity
  cli::ServeRenderOptions r;
  r.model_dir = tiny_bundle().string();
  // Random weights make noise frames, which nsfwjs can score as explicit; SignedOutput's own
  // tests cover frame review.
  r.no_frame_review = true;
  ServeOptions o;
  o.data_dir = (dir / "data").string();
  o.model = cli::serve_model_info(r.model_dir);
  return std::make_unique<Running>(o, cli::pipeline_renderer_factory(r));
}

TEST(ServePipeline, AJobBecomesASignedVideoWithThumbnailAndSpriteSheet) {
  const fs::path dir = fresh_dir("pipeline");
  auto s = start_tiny(dir);
  auto r = s->post("/v1/videos", {{"prompt", "a red circle moves right"}, {"seconds", "1"}, {"size", "1920x1080"},
                                  {"steps", 2}, {"seed", 3}});
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = json::parse(r->body)["id"];
  const json v = s->wait_for(id, "completed", 60);
  EXPECT_EQ(v["size"], "48x32");
  EXPECT_EQ(v["seconds"], "1.08");
  for (const std::string variant : {"video", "thumbnail", "spritesheet"}) {
    auto c = s->get("/v1/videos/" + id + "/content?variant=" + variant);
    ASSERT_EQ(c->status, 200) << variant;
    const fs::path f = dir / (variant + (variant == "video" ? ".mp4" : ".png"));
    std::ofstream(f, std::ios::binary) << c->body;
    EXPECT_EQ(verify_file(f.string()).status, CredentialStatus::valid) << variant;
  }
  // The page's badge: the same verdict as `kinema verify`.
  const json c = json::parse(s->get("/v1/videos/" + id + "/credentials")->body);
  EXPECT_EQ(c["status"], "valid") << c.dump();
  EXPECT_NE(c["claim_generator"].get<std::string>().find("kinema"), std::string::npos);
  const std::vector<Frame> frames = read_video((dir / "video.mp4").string());
  EXPECT_EQ(frames.size(), 13u);
  EXPECT_EQ(frames[0].width, 48);
  EXPECT_EQ(read_video((dir / "thumbnail.png").string())[0].height, 32);
}

TEST(ServePipeline, ALoopIsMadeByTheLoopMode) {
  const fs::path dir = fresh_dir("pipeline_loop");
  auto s = start_tiny(dir);
  const std::string id = json::parse(s->post("/v1/videos", {{"prompt", "a red circle moves right"}, {"seconds", "1"},
                                                             {"steps", 2}, {"loop", true}})->body)["id"];
  s->wait_for(id, "completed", 60);
  auto c = s->get("/v1/videos/" + id + "/content");
  std::ofstream(dir / "loop.mp4", std::ios::binary) << c->body;
  EXPECT_EQ(read_video((dir / "loop.mp4").string()).size(), 13u);
}

// kinema's join, an extra field of an extension: the first video, the generated transition, then
// the second video.
TEST(ServePipeline, AJoinLeadsFromOneVideoIntoAnother) {
  const fs::path dir = fresh_dir("pipeline_join");
  auto s = start_tiny(dir);
  auto make = [&](const char* prompt, const char* seconds) {
    const std::string id = json::parse(s->post("/v1/videos", {{"prompt", prompt}, {"seconds", seconds},
                                                               {"size", "48x32"}, {"steps", 2}})->body)["id"];
    s->wait_for(id, "completed", 60);
    return id;
  };
  const std::string a = make("a red circle moves right", "1"), b = make("a blue star falls", "0.5");
  auto r = s->post("/v1/videos/extensions", {{"prompt", "the circle becomes a star"}, {"seconds", "1"},
                                             {"video", {{"id", a}}}, {"join", b}, {"steps", 2}});
  ASSERT_EQ(r->status, 200) << r->body;
  const json v = s->wait_for(json::parse(r->body)["id"], "completed", 60);
  EXPECT_EQ(v["kinema"]["requested"]["join_of"], b);
  EXPECT_EQ(v["seconds"], "2.83");  // 13 + 12 + 9 frames at 12 fps
  auto fetch = [&](const std::string& id, const char* name) {
    std::ofstream(dir / name, std::ios::binary) << s->get("/v1/videos/" + id + "/content")->body;
    return read_video((dir / name).string());
  };
  const std::vector<Frame> joined = fetch(v["id"], "joined.mp4"), first = fetch(a, "a.mp4"), second = fetch(b, "b.mp4");
  ASSERT_EQ(joined.size(), 34u);
  ASSERT_EQ(first.size(), 13u);
  ASSERT_EQ(second.size(), 9u);
  // Both videos are in it (through one more lossy encode): close to their own frames.
  EXPECT_LT(mean_abs_diff(joined[0], first[0]), 6.0);
  EXPECT_LT(mean_abs_diff(joined[33], second[8]), 6.0);
  EXPECT_GT(mean_abs_diff(joined[33], first[12]), mean_abs_diff(joined[33], second[8]));
}

// kinema's storyboard behind the queue: every shot in turn, in one signed video.
TEST(ServePipeline, AStoryboardJobHoldsEveryShot) {
  const fs::path dir = fresh_dir("pipeline_storyboard");
  auto s = start_tiny(dir);
  auto r = s->post("/v1/videos", {{"prompt", "a red circle moves right [shot] close-up of the red circle"},
                                  {"seconds", "1.5"}, {"size", "48x32"}, {"steps", 2}});
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = json::parse(r->body)["id"];
  s->wait_for(id, "completed", 60);
  std::ofstream(dir / "board.mp4", std::ios::binary) << s->get("/v1/videos/" + id + "/content")->body;
  EXPECT_EQ(read_video((dir / "board.mp4").string()).size(), 9u + 9u);  // two shots of 0.75 s
}

TEST(ServePipeline, ARefusedPromptFailsTheJobWithThePolicyRule) {
  const fs::path dir = fresh_dir("pipeline_refused");
  auto s = start_tiny(dir);
  const std::string id = json::parse(s->post("/v1/videos", {{"prompt", "a man decapitated in the street"}})->body)["id"];
  const json v = s->wait_for(id, "failed", 60);
  EXPECT_EQ(v["error"]["code"], "moderation_blocked");
  const std::string msg = v["error"]["message"];
  EXPECT_NE(msg.find("violence"), std::string::npos) << msg;
  EXPECT_NE(msg.find("by rule '"), std::string::npos) << msg;
  EXPECT_TRUE(fs::is_empty(dir / "data" / "videos"));
}

}  // namespace
}  // namespace kinema::serve::test
