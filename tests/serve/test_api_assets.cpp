// The API's stored assets on the stand-in renderer: expiry of completed videos
// (--retention-hours), uploaded source videos for edits and extensions, and characters.
#include <ctime>
#include <fstream>

#include "api_test_fixture.hpp"
#include "kinema/media.hpp"

namespace kinema::serve::test {
namespace {

// A retention of two seconds (fractional hours): expires_at = completed_at + 2 in every video
// object; then the sweeper removes the files, the video object stays "completed" with its
// expires_at in the past, and its content (and using it as a source) says it expired.
TEST_F(Api, CompletedVideosExpireAfterTheRetentionAndTheirFilesAreRemoved) {
  ServeOptions o = options(dir);
  o.retention_hours = 2.0 / 3600;
  auto s = start(o);
  const std::string id = json::parse(s->post("/v1/videos", {{"prompt", "a"}})->body)["id"];
  const json v = s->wait_for(id, "completed");
  ASSERT_TRUE(v["expires_at"].is_number()) << v.dump();
  EXPECT_EQ(v["expires_at"].get<int64_t>(), v["completed_at"].get<int64_t>() + 2);
  EXPECT_EQ(s->get("/v1/videos/" + id + "/content")->status, 200);
  const json list = json::parse(s->get("/v1/videos")->body);
  EXPECT_EQ(list["data"][0]["expires_at"], v["expires_at"]);
  // The sweeper runs every second here.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < end && !fs::is_empty(dir / "videos"))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(fs::is_empty(dir / "videos"));
  const json after = json::parse(s->get("/v1/videos/" + id)->body);
  EXPECT_EQ(after["status"], "completed");
  EXPECT_LE(after["expires_at"].get<int64_t>(), int64_t(std::time(nullptr)));
  for (const char* variant : {"video", "thumbnail", "spritesheet"}) {
    const json e = error_of(s->get("/v1/videos/" + id + "/content?variant=" + variant), 404);
    EXPECT_EQ(e["code"], "video_expired");
    EXPECT_NE(e["message"].get<std::string>().find("expired"), std::string::npos);
  }
  EXPECT_EQ(error_of(s->post("/v1/videos/" + id + "/remix", {{"prompt", "b"}}), 400)["code"], "video_expired");
  EXPECT_EQ(error_of(s->post("/v1/videos/extensions", {{"prompt", "b"}, {"video", {{"id", id}}}}), 400)["code"],
            "video_expired");
  EXPECT_EQ(s->del("/v1/videos/" + id)->status, 200);  // an expired video can still be deleted
}

TEST_F(Api, ARetentionOfZeroKeepsVideosUntilDeleted) {
  ServeOptions o = options(dir);
  o.retention_hours = 0;
  auto s = start(o);
  const std::string id = json::parse(s->post("/v1/videos", {{"prompt", "a"}})->body)["id"];
  EXPECT_TRUE(s->wait_for(id, "completed")["expires_at"].is_null());
  o.retention_hours = -1;
  EXPECT_THROW(Server(o, factory()), Error);
}

// A real MP4 of `frames` frames at width x height, as bytes (kinema's own writer).
std::string mp4_bytes(const fs::path& dir, int frames, int width, int height) {
  const std::string path = (dir / "upload_src.mp4").string();
  VideoWriterOptions o;
  o.width = width, o.height = height, o.fps = 12;
  VideoWriter w(path, o);
  for (int i = 0; i < frames; ++i) {
    Frame f;
    f.width = width, f.height = height, f.rgb.assign(size_t(width * height * 3), uint8_t(20 * i));
    w.write(f);
  }
  w.close();
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> files_in(const fs::path& d) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(d)) names.push_back(e.path().filename().string());
  return names;
}

// The openai client sends video as an Uploadable (multipart field `video`): edits and extensions
// take an uploaded MP4, decoded before the job is queued; broken files are 400 naming the problem.
TEST_F(Api, EditsAndExtensionsTakeAnUploadedVideo) {
  auto s = start();
  const std::string mp4 = mp4_bytes(dir, 14, 64, 32);
  httplib::MultipartFormDataItems items = {{"prompt", "make it blue", "", ""}, {"video", mp4, "clip.mp4", "video/mp4"}};
  auto r = s->client->Post("/v1/videos/edits", items);
  ASSERT_EQ(r->status, 200) << r->body;
  json v = s->wait_for(json::parse(r->body)["id"], "completed");
  EXPECT_TRUE(v["remixed_from_video_id"].is_null());
  EXPECT_EQ(v["size"], "48x32");             // 64x32 maps onto the model's landscape size
  EXPECT_EQ(v["kinema"]["frames"], 13);      // 14 frames: 1 + 4k of them
  EXPECT_EQ(v["kinema"]["requested"]["edit_of_upload"], "clip.mp4");
  ASSERT_EQ(stage.seen.size(), 1u);
  EXPECT_EQ(fs::path(stage.seen[0].remix_source).parent_path(), dir / "uploads");
  EXPECT_TRUE(fs::exists(stage.seen[0].remix_source));
  // An extension of the same upload: 13 frames + 1 s (12 frames).
  items = {{"prompt", "then it turns", "", ""}, {"seconds", "1", "", ""}, {"video", mp4, "clip.mp4", "video/mp4"}};
  r = s->client->Post("/v1/videos/extensions", items);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string ext = json::parse(r->body)["id"];
  v = s->wait_for(ext, "completed");
  EXPECT_EQ(v["kinema"]["frames"], 25);
  EXPECT_EQ(v["seconds"], "2.08");
  ASSERT_EQ(stage.seen.size(), 2u);
  EXPECT_EQ(stage.seen[1].extend_frames, 12);
  EXPECT_EQ(fs::path(stage.seen[1].extend_source).parent_path(), dir / "uploads");
  // Deleting the job removes its upload.
  const std::string upload = stage.seen[1].extend_source;
  EXPECT_EQ(s->del("/v1/videos/" + ext)->status, 200);
  EXPECT_FALSE(fs::exists(upload));
  // Broken or wrong uploads: 400 with param "video", and nothing is left in uploads/.
  const size_t stored = files_in(dir / "uploads").size();
  for (const std::string& bad : {std::string("....ftypisom") + std::string(200, 'x'), mp4.substr(0, mp4.size() / 3),
                                 std::string("hello, not a video")}) {
    items = {{"prompt", "x", "", ""}, {"video", bad, "broken.mp4", "video/mp4"}};
    for (const char* route : {"/v1/videos/edits", "/v1/videos/extensions"}) {
      const json e = error_of(s->client->Post(route, items), 400);
      EXPECT_EQ(e["param"], "video") << route;
      EXPECT_EQ(e["type"], "invalid_request_error");
      EXPECT_NE(e["message"].get<std::string>().find("broken.mp4"), std::string::npos) << e.dump();
    }
  }
  // An upload too long to extend, and a bad seed after a good upload, leave nothing behind.
  items = {{"prompt", "x", "", ""}, {"seconds", "60", "", ""}, {"video", mp4, "clip.mp4", "video/mp4"}};
  EXPECT_EQ(error_of(s->client->Post("/v1/videos/extensions", items), 400)["param"], "seconds");
  items = {{"prompt", "x", "", ""}, {"seed", "-1", "", ""}, {"video", mp4, "clip.mp4", "video/mp4"}};
  EXPECT_EQ(error_of(s->client->Post("/v1/videos/edits", items), 400)["param"], "seed");
  EXPECT_EQ(files_in(dir / "uploads").size(), stored);
  // A video is no input_reference for create.
  items = {{"prompt", "x", "", ""}, {"video", mp4, "clip.mp4", "video/mp4"}};
  EXPECT_EQ(error_of(s->client->Post("/v1/videos", items), 400)["param"], "video");
}

std::string png_bytes(const fs::path& dir) {
  const std::string path = (dir / "ref.png").string();
  Frame f;
  f.width = 8, f.height = 8, f.rgb.assign(8 * 8 * 3, 200);
  write_image(path, f);
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// POST /v1/videos/characters stores a reference (an image, or a clip's first frame); a create
// that names it (characters: [id], or @NAME in its prompt) starts from it as input_reference does.
TEST_F(Api, CharactersAreStoredReferencesThatCreateStartsFrom) {
  const std::string alice = create_api_key(dir.string(), "alice"), bob = create_api_key(dir.string(), "bob");
  ServeOptions o = options(dir);
  o.max_body_bytes = 1 << 20;
  auto s = start(o);
  s->key = alice;
  auto post = [&](const httplib::MultipartFormDataItems& items) {
    return s->client->Post("/v1/videos/characters", s->headers(), items);
  };
  auto r = post({{"name", "Rex", "", ""}, {"video", mp4_bytes(dir, 6, 32, 32), "rex.mp4", "video/mp4"}});
  ASSERT_EQ(r->status, 200) << r->body;
  const json rex = json::parse(r->body);
  EXPECT_EQ(rex["object"], "video.character");
  EXPECT_EQ(rex["name"], "Rex");
  EXPECT_EQ(rex["id"].get<std::string>().rfind("char_", 0), 0u);
  EXPECT_TRUE(rex["created_at"].is_number());
  r = post({{"name", "Rexford", "", ""}, {"video", png_bytes(dir), "r.png", "image/png"}});
  ASSERT_EQ(r->status, 200) << r->body;
  const json rexford = json::parse(r->body);
  EXPECT_EQ(json::parse(s->get("/v1/videos/characters/" + rex["id"].get<std::string>())->body), rex);
  const json list = json::parse(s->get("/v1/videos/characters")->body);
  ASSERT_EQ(list["data"].size(), 2u);
  EXPECT_EQ(list["data"][0]["id"], rex["id"]);
  // @NAME in the prompt (the longest name at the earliest mention), or the id in `characters`.
  r = s->post("/v1/videos", {{"prompt", "@Rexford runs"}, {"size", "32x32"}});
  ASSERT_EQ(r->status, 200) << r->body;
  json v = s->wait_for(json::parse(r->body)["id"], "completed");
  EXPECT_EQ(v["kinema"]["requested"]["character"], rexford["id"]);
  r = s->post("/v1/videos", {{"prompt", "a dog runs"}, {"characters", {rex["id"]}}});
  ASSERT_EQ(r->status, 200) << r->body;
  v = s->wait_for(json::parse(r->body)["id"], "completed");
  EXPECT_EQ(v["kinema"]["requested"]["character"], rex["id"]);
  ASSERT_EQ(stage.seen.size(), 2u);
  for (const RenderTask& t : stage.seen) {
    EXPECT_EQ(fs::path(t.input_reference).parent_path(), dir / "uploads");
    EXPECT_TRUE(fs::exists(t.input_reference));
    EXPECT_EQ(read_video(t.input_reference).size(), 1u);  // an image: the clip's first frame
  }
  // Without a mention nothing is used; an unknown id is 404; a character and an input_reference
  // together are 400.
  r = s->post("/v1/videos", {{"prompt", "Rex without the at"}});
  EXPECT_FALSE(json::parse(r->body)["kinema"]["requested"].contains("character"));
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}, {"characters", {"char_nope"}}}), 404)["code"], "not_found");
  EXPECT_EQ(error_of(s->client->Post("/v1/videos", s->headers(),
                                     {{"prompt", "@Rex", "", ""}, {"input_reference", png_bytes(dir), "a.png", "image/png"}}),
                     400)["param"], "input_reference");
  // Another key's characters do not exist, for reading, deleting or using.
  s->key = bob;
  const std::string rex_id = rex["id"];
  EXPECT_EQ(error_of(s->get("/v1/videos/characters/" + rex_id), 404)["code"], "not_found");
  EXPECT_EQ(s->del("/v1/videos/characters/" + rex_id)->status, 404);
  EXPECT_EQ(json::parse(s->get("/v1/videos/characters")->body)["data"].size(), 0u);
  EXPECT_EQ(s->post("/v1/videos", {{"prompt", "x"}, {"characters", {rex_id}}})->status, 404);
  r = s->post("/v1/videos", {{"prompt", "@Rex"}});
  EXPECT_FALSE(json::parse(r->body)["kinema"]["requested"].contains("character"));
  // Bad input: no file, no name, a duplicate name, not a video, a broken clip, too big.
  s->key = alice;
  EXPECT_EQ(error_of(post({{"name", "X", "", ""}}), 400)["param"], "video");
  EXPECT_EQ(error_of(s->post("/v1/videos/characters", {{"name", "X"}}), 400)["param"], "video");
  EXPECT_EQ(error_of(post({{"video", png_bytes(dir), "r.png", "image/png"}}), 400)["param"], "name");
  EXPECT_EQ(error_of(post({{"name", std::string(81, 'n'), "", ""}, {"video", png_bytes(dir), "r.png", "image/png"}}), 400)["param"], "name");
  EXPECT_EQ(error_of(post({{"name", "Rex", "", ""}, {"video", png_bytes(dir), "r.png", "image/png"}}), 400)["param"], "name");
  EXPECT_EQ(error_of(post({{"name", "Y", "", ""}, {"video", "text", "y.txt", "text/plain"}}), 400)["param"], "video");
  const json broken = error_of(post({{"name", "Y", "", ""}, {"video", std::string("....ftypisom") + std::string(300, 'z'), "y.mp4", "video/mp4"}}), 400);
  EXPECT_EQ(broken["param"], "video");
  EXPECT_NE(broken["message"].get<std::string>().find("y.mp4"), std::string::npos);
  EXPECT_EQ(error_of(post({{"name", "Big", "", ""}, {"video", std::string(2 << 20, 'b'), "big.mp4", "video/mp4"}}), 413)["code"],
            "request_too_large");
  EXPECT_EQ(error_of(s->get("/v1/videos/characters/char_nope"), 404)["code"], "not_found");
  // DELETE removes the character and its image; jobs made from it keep their own copy.
  const size_t uploads = files_in(dir / "uploads").size();
  r = s->del("/v1/videos/characters/" + rex_id);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["deleted"], true);
  EXPECT_EQ(files_in(dir / "uploads").size(), uploads - 1);
  EXPECT_EQ(s->get("/v1/videos/characters/" + rex_id)->status, 404);
  EXPECT_TRUE(fs::exists(stage.seen[1].input_reference));
}

}  // namespace
}  // namespace kinema::serve::test
