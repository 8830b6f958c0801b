// The Videos API's contract on a stand-in renderer (no model): shapes, statuses, errors, paging,
// the queue limit, cancel by DELETE, remix, keys and owners, events, metrics, restarts.
#include <fstream>

#include "api_test_fixture.hpp"

namespace kinema::serve::test {
namespace {

TEST_F(Api, CreateAnswersAVideoObjectThatSaysWhatSizeAndLengthWereUsed) {
  auto s = start();
  auto r = s->post("/v1/videos", {{"prompt", "a red circle"}, {"size", "1280x720"}, {"seconds", "4"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json v = json::parse(r->body);
  EXPECT_EQ(v["object"], "video");
  EXPECT_EQ(v["id"].get<std::string>().rfind("video_", 0), 0u);
  EXPECT_EQ(v["model"], "tiny-test");
  EXPECT_EQ(v["size"], "48x32");       // the trained size nearest 16:9
  EXPECT_EQ(v["seconds"], "4.08");     // 49 frames at 12 fps
  EXPECT_EQ(v["kinema"]["frames"], 49);
  EXPECT_EQ(v["kinema"]["requested"]["size"], "1280x720");
  for (const char* k : {"status", "progress", "created_at", "completed_at", "expires_at", "prompt",
                        "remixed_from_video_id", "error"})
    EXPECT_TRUE(v.contains(k)) << k;
  const json done = s->wait_for(v["id"], "completed");
  EXPECT_EQ(done["progress"], 100);
  EXPECT_TRUE(done["completed_at"].is_number());
  EXPECT_TRUE(done["error"].is_null());
  auto video = s->get("/v1/videos/" + v["id"].get<std::string>() + "/content");
  ASSERT_EQ(video->status, 200);
  EXPECT_EQ(video->get_header_value("Content-Type"), "video/mp4");
  EXPECT_EQ(video->body, "FAKEMP4 a red circle");
  auto thumb = s->get("/v1/videos/" + v["id"].get<std::string>() + "/content?variant=thumbnail");
  EXPECT_EQ(thumb->body, "THUMB");
  EXPECT_EQ(s->get("/v1/videos/" + v["id"].get<std::string>() + "/content?variant=spritesheet")->body, "SPRITES");
  // The renderer got the mapped request.
  ASSERT_EQ(stage.seen.size(), 1u);
  EXPECT_EQ(stage.seen[0].width, 48);
  EXPECT_EQ(stage.seen[0].frames, 49);
}

TEST_F(Api, MultipartCreateStoresTheInputReferenceUnderARandomName) {
  auto s = start();
  httplib::MultipartFormDataItems items = {{"prompt", "a red ball rolls", "", ""},
                                           {"seconds", "1", "", ""},
                                           {"input_reference", std::string("\x89PNG\r\n\x1a\n....", 12), "../../etc/passwd", "image/png"}};
  auto r = s->client->Post("/v1/videos", items);
  ASSERT_EQ(r->status, 200) << r->body;
  s->wait_for(json::parse(r->body)["id"], "completed");
  ASSERT_EQ(stage.seen.size(), 1u);
  const fs::path ref = stage.seen[0].input_reference;
  EXPECT_EQ(ref.parent_path(), dir / "uploads");
  EXPECT_EQ(ref.extension(), ".png");
  EXPECT_TRUE(fs::exists(ref));
  EXPECT_EQ(stage.seen[0].frames, 13);
  items[2].content = "not an image";
  EXPECT_EQ(error_of(s->client->Post("/v1/videos", items), 400)["param"], "input_reference");
}

TEST_F(Api, ListPagesWithACursorInEitherOrder) {
  auto s = start();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(json::parse(s->post("/v1/videos", {{"prompt", "clip " + std::to_string(i)}})->body)["id"]);
  json page = json::parse(s->get("/v1/videos?limit=2&order=asc")->body);
  EXPECT_EQ(page["object"], "list");
  ASSERT_EQ(page["data"].size(), 2u);
  EXPECT_EQ(page["data"][0]["id"], ids[0]);
  EXPECT_EQ(page["first_id"], ids[0]);
  EXPECT_EQ(page["last_id"], ids[1]);
  EXPECT_TRUE(page["has_more"]);
  page = json::parse(s->get("/v1/videos?limit=2&order=asc&after=" + ids[1])->body);
  EXPECT_EQ(page["data"][0]["id"], ids[2]);
  page = json::parse(s->get("/v1/videos?limit=2&order=asc&after=" + ids[3])->body);
  ASSERT_EQ(page["data"].size(), 1u);
  EXPECT_FALSE(page["has_more"]);
  page = json::parse(s->get("/v1/videos")->body);  // newest first by default
  ASSERT_EQ(page["data"].size(), 5u);
  EXPECT_EQ(page["data"][0]["id"], ids[4]);
  EXPECT_EQ(error_of(s->get("/v1/videos?limit=0"), 400)["param"], "limit");
  EXPECT_EQ(error_of(s->get("/v1/videos?order=up"), 400)["param"], "order");
  EXPECT_EQ(error_of(s->get("/v1/videos?after=video_nope"), 400)["param"], "after");
}

TEST_F(Api, BadRequestsGetOpenAIErrorObjectsWithTheRightStatus) {
  auto s = start();
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"seconds", "4"}}), 400)["param"], "prompt");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "   "}}), 400)["param"], "prompt");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", 5}}), 400)["type"], "invalid_request_error");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", {{"nested", 1}}}}), 400)["param"], "prompt");
  EXPECT_EQ(error_of(s->client->Post("/v1/videos", "{\"prompt\": ", "application/json"), 400)["param"], nullptr);
  EXPECT_EQ(error_of(s->client->Post("/v1/videos", "[1,2]", "application/json"), 400)["type"], "invalid_request_error");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}, {"size", "big"}}), 400)["param"], "size");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}, {"seconds", "-3"}}), 400)["param"], "seconds");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}, {"model", "dall-e-2"}}), 400)["code"], "model_not_found");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}, {"steps", "0"}}), 400)["param"], "steps");
  EXPECT_EQ(error_of(s->get("/v1/videos/video_nope"), 404)["code"], "not_found");
  EXPECT_EQ(error_of(s->get("/v1/videos/..%2F..%2Fetc"), 404)["code"], "unknown_url");
  EXPECT_EQ(error_of(s->get("/v1/nothing"), 404)["code"], "unknown_url");
  // Bytes that are not UTF-8, echoed in the error (found by fuzz_serve: it used to abort).
  EXPECT_EQ(error_of(s->get("/v1/v\xff\xfe"), 404)["code"], "unknown_url");
  httplib::MultipartFormDataItems bad_text = {{"prompt", "a \xff\xfe circle", "", ""}};
  EXPECT_EQ(error_of(s->client->Post("/v1/videos", bad_text), 400)["param"], "prompt");
  EXPECT_EQ(error_of(s->post("/v1/videos/characters", {{"name", "x"}}), 400)["param"], "video");  // no clip
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}, {"video", {{"id", 5}}}}), 400)["param"], "video");
  stage.set_open(false);
  const std::string id = json::parse(s->post("/v1/videos", {{"prompt", "block"}})->body)["id"];
  EXPECT_EQ(error_of(s->get("/v1/videos/" + id + "/content"), 400)["code"], "video_not_ready");
  EXPECT_EQ(error_of(s->get("/v1/videos/" + id + "/content?variant=gif"), 400)["param"], "variant");
  EXPECT_EQ(error_of(s->post("/v1/videos/" + id + "/remix", {{"prompt", "x"}}), 400)["type"], "invalid_request_error");
  stage.set_open(true);
}

TEST_F(Api, BodiesOverTheLimitAre413) {
  ServeOptions o = options(dir);
  o.max_body_bytes = 1024;
  auto s = start(o);
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", std::string(4096, 'a')}}), 413)["code"], "request_too_large");
  EXPECT_EQ(s->post("/v1/videos", {{"prompt", "small"}})->status, 200);
}

TEST_F(Api, AFullQueueIs429WithRetryAfter) {
  ServeOptions o = options(dir);
  o.queue_limit = 2;
  stage.set_open(false);
  auto s = start(o);
  const std::string first = json::parse(s->post("/v1/videos", {{"prompt", "block 1"}})->body)["id"];
  s->wait_for(first, "in_progress");
  EXPECT_EQ(s->post("/v1/videos", {{"prompt", "two"}})->status, 200);
  EXPECT_EQ(s->post("/v1/videos", {{"prompt", "three"}})->status, 200);
  auto r = s->post("/v1/videos", {{"prompt", "four"}});
  EXPECT_EQ(error_of(r, 429)["code"], "queue_full");
  EXPECT_EQ(r->get_header_value("Retry-After"), "30");
  stage.set_open(true);
  s->wait_for(first, "completed");
}

TEST_F(Api, DeleteCancelsARunningRenderAndRemovesStoredFiles) {
  auto s = start();
  const std::string done = json::parse(s->post("/v1/videos", {{"prompt", "keep"}})->body)["id"];
  s->wait_for(done, "completed");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "videos"), fs::directory_iterator()), 3);
  auto d = s->del("/v1/videos/" + done);
  ASSERT_EQ(d->status, 200);
  EXPECT_EQ(json::parse(d->body), (json{{"id", done}, {"object", "video.deleted"}, {"deleted", true}}));
  EXPECT_EQ(s->get("/v1/videos/" + done)->status, 404);
  EXPECT_TRUE(fs::is_empty(dir / "videos"));

  stage.set_open(false);
  const std::string running = json::parse(s->post("/v1/videos", {{"prompt", "block"}})->body)["id"];
  s->wait_for(running, "in_progress");
  // Delete once the renderer is inside its blocking loop (it has reported 50%): a delete that
  // lands before its first report cancels the job too, but outside the loop that counts it.
  for (int i = 0; i < 500; ++i) {
    auto r = s->get("/v1/videos/" + running);
    if (r && r->status == 200 && json::parse(r->body).value("progress", 0) >= 50) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(s->del("/v1/videos/" + running)->status, 200);
  for (int i = 0; i < 500 && stage.cancelled == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(stage.cancelled, 1);
  EXPECT_EQ(s->get("/v1/videos/" + running)->status, 404);
  stage.set_open(true);
  // The worker is free again.
  s->wait_for(json::parse(s->post("/v1/videos", {{"prompt", "after"}})->body)["id"], "completed");
}

TEST_F(Api, RefusalsAndFailuresEndTheJobWithAnErrorObject) {
  auto s = start();
  json v = s->wait_for(json::parse(s->post("/v1/videos", {{"prompt", "refuse this"}})->body)["id"], "failed");
  EXPECT_EQ(v["error"]["code"], "moderation_blocked");
  EXPECT_NE(v["error"]["message"].get<std::string>().find("rule 'lexicon test'"), std::string::npos);
  v = s->wait_for(json::parse(s->post("/v1/videos", {{"prompt", "fail this"}})->body)["id"], "failed");
  EXPECT_EQ(v["error"]["code"], "render_failed");
  EXPECT_TRUE(fs::is_empty(dir / "videos"));
}

TEST_F(Api, RemixStartsFromTheSourceVideoAndNamesIt) {
  auto s = start();
  const std::string src = json::parse(s->post("/v1/videos", {{"prompt", "a"}, {"size", "32x32"}})->body)["id"];
  s->wait_for(src, "completed");
  auto r = s->post("/v1/videos/" + src + "/remix", {{"prompt", "b"}});
  ASSERT_EQ(r->status, 200) << r->body;
  const json v = s->wait_for(json::parse(r->body)["id"], "completed");
  EXPECT_EQ(v["remixed_from_video_id"], src);
  EXPECT_EQ(v["size"], "32x32");
  ASSERT_EQ(stage.seen.size(), 2u);
  EXPECT_EQ(fs::path(stage.seen[1].remix_source).parent_path(), dir / "videos");
  EXPECT_EQ(s->post("/v1/videos/video_nope/remix", {{"prompt", "b"}})->status, 404);
  // An edit is the same from video: {"id"}, with kinema's strength.
  r = s->post("/v1/videos/edits", {{"prompt", "c"}, {"video", {{"id", src}}}, {"strength", 0.3}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(s->wait_for(json::parse(r->body)["id"], "completed")["remixed_from_video_id"], src);
  ASSERT_EQ(stage.seen.size(), 3u);
  EXPECT_FLOAT_EQ(stage.seen[2].strength, 0.3f);
  EXPECT_EQ(stage.seen[2].remix_source, stage.seen[1].remix_source);
  EXPECT_EQ(error_of(s->post("/v1/videos/edits", {{"prompt", "c"}}), 400)["param"], "video");
  EXPECT_EQ(error_of(s->post("/v1/videos/edits", {{"prompt", "c"}, {"video", {{"id", src}}}, {"strength", 2}}), 400)["param"],
            "strength");
  httplib::MultipartFormDataItems upload = {{"prompt", "c", "", ""}, {"video", "....ftypisom", "a.mp4", "video/mp4"}};
  EXPECT_EQ(error_of(s->client->Post("/v1/videos/edits", upload), 400)["param"], "video");
}

TEST_F(Api, AnExtensionContinuesACompletedVideoAndReportsTheStitchedLength) {
  auto s = start();
  const std::string src = json::parse(s->post("/v1/videos", {{"prompt", "a"}, {"seconds", "1"}})->body)["id"];
  s->wait_for(src, "completed");
  auto r = s->post("/v1/videos/extensions", {{"prompt", "then it turns"}, {"seconds", "2"}, {"video", {{"id", src}}}});
  ASSERT_EQ(r->status, 200) << r->body;
  const json v = s->wait_for(json::parse(r->body)["id"], "completed");
  EXPECT_EQ(v["seconds"], "3.08");  // 13 + 24 frames at 12 fps
  EXPECT_EQ(v["kinema"]["frames"], 37);
  EXPECT_EQ(v["kinema"]["requested"]["extend_of"], src);
  ASSERT_EQ(stage.seen.size(), 2u);
  EXPECT_EQ(stage.seen[1].extend_frames, 24);
  EXPECT_EQ(fs::path(stage.seen[1].extend_source).parent_path(), dir / "videos");
  // Multipart, as the openai client sends it: video[id].
  httplib::MultipartFormDataItems items = {{"prompt", "more", "", ""}, {"seconds", "1", "", ""}, {"video[id]", src, "", ""}};
  EXPECT_EQ(s->client->Post("/v1/videos/extensions", items)->status, 200);
  EXPECT_EQ(error_of(s->post("/v1/videos/extensions", {{"prompt", "x"}}), 400)["param"], "video");
  EXPECT_EQ(s->post("/v1/videos/extensions", {{"prompt", "x"}, {"video", {{"id", "video_nope"}}}})->status, 404);
  EXPECT_EQ(error_of(s->post("/v1/videos/extensions", {{"prompt", "x"}, {"seconds", "60"}, {"video", {{"id", src}}}}), 400)["param"],
            "seconds");
}

TEST_F(Api, AJoinIsAnExtensionIntoAnotherVideoOfTheSameSize) {
  auto s = start();
  auto make = [&](const char* size) {
    const std::string id = json::parse(s->post("/v1/videos", {{"prompt", "a"}, {"seconds", "1"}, {"size", size}})->body)["id"];
    s->wait_for(id, "completed");
    return id;
  };
  const std::string a = make("32x32"), b = make("32x32"), wide = make("48x32");
  auto r = s->post("/v1/videos/extensions", {{"prompt", "x"}, {"seconds", "1"}, {"video", {{"id", a}}}, {"join", b}});
  ASSERT_EQ(r->status, 200) << r->body;
  const json v = s->wait_for(json::parse(r->body)["id"], "completed");
  EXPECT_EQ(v["kinema"]["frames"], 13 + 12 + 13);
  EXPECT_EQ(v["kinema"]["requested"]["join_of"], b);
  ASSERT_EQ(stage.seen.size(), 4u);
  EXPECT_EQ(stage.seen[3].join_frames, 13);
  EXPECT_EQ(stage.seen[3].extend_frames, 12);
  EXPECT_EQ(fs::path(stage.seen[3].join_source).parent_path(), dir / "videos");
  // Multipart: a plain text field.
  httplib::MultipartFormDataItems items = {{"prompt", "y", "", ""}, {"video[id]", a, "", ""}, {"join", b, "", ""}};
  EXPECT_EQ(s->client->Post("/v1/videos/extensions", items)->status, 200);
  EXPECT_EQ(error_of(s->post("/v1/videos/extensions", {{"prompt", "x"}, {"video", {{"id", a}}}, {"join", wide}}), 400)["param"],
            "join");
  EXPECT_EQ(s->post("/v1/videos/extensions", {{"prompt", "x"}, {"video", {{"id", a}}}, {"join", "video_nope"}})->status, 404);
  EXPECT_EQ(error_of(s->post("/v1/videos/extensions", {{"prompt", "x"}, {"seconds", "58.5"}, {"video", {{"id", a}}}, {"join", b}}),
                     400)["param"],
            "join");
}

TEST_F(Api, AStoryboardIsAListOfShotsOrShotMarkersAndItsLengthIsTheirSum) {
  auto s = start();
  const json shots = json::array({{{"prompt", "a red ball rolls"}, {"seconds", 1}},
                                  {{"prompt", "close-up of the ball"}, {"camera", "close-up"}}});
  auto r = s->post("/v1/videos", {{"prompt", "a ball"}, {"seconds", "0.5"}, {"storyboard", shots}});
  ASSERT_EQ(r->status, 200) << r->body;
  const json v = s->wait_for(json::parse(r->body)["id"], "completed");
  EXPECT_EQ(v["kinema"]["frames"], 13 + 9);  // 1 s, then the request's 0.5 s
  EXPECT_EQ(v["seconds"], "1.83");
  ASSERT_EQ(stage.seen.size(), 1u);
  EXPECT_EQ(stage.seen[0].shot_frames, 9);
  const json stored = json::parse(stage.seen[0].storyboard);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1]["camera"], "close-up");
  // [shot] markers split the requested seconds; multipart takes the list as JSON text.
  r = s->post("/v1/videos", {{"prompt", "a red ball rolls [shot] close-up of the ball"}, {"seconds", "2"}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["kinema"]["frames"], 13 + 13);
  httplib::MultipartFormDataItems items = {{"prompt", "x", "", ""}, {"storyboard", shots.dump(), "", ""}};
  EXPECT_EQ(s->client->Post("/v1/videos", items)->status, 200);
  for (const json& bad : {json::array(), json::array({{{"prompt", "a"}, {"zoom", 2}}}), json::array({{{"prompt", ""}}}),
                          json::array({{{"prompt", "a"}, {"seconds", 45}}, {{"prompt", "b"}, {"seconds", 45}}})})
    EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}, {"storyboard", bad}}), 400)["param"], "storyboard")
        << bad.dump();
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}, {"storyboard", "not json"}}), 400)["param"], "storyboard");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "a [shot] b"}, {"loop", true}}), 400)["param"], "storyboard");
}

TEST_F(Api, KinemasOwnFieldsReachTheRenderer) {
  auto s = start();
  auto r = s->post("/v1/videos", {{"prompt", "a"}, {"seconds", 1}, {"seed", 42}, {"steps", 7}, {"sampler", "euler"},
                                  {"cfg", 2.5}, {"negative", "blur"}, {"loop", true}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["kinema"]["seed"], 42);
  s->wait_for(json::parse(r->body)["id"], "completed");
  ASSERT_EQ(stage.seen.size(), 1u);
  const RenderTask& t = stage.seen[0];
  EXPECT_EQ(t.seed, 42u);
  EXPECT_EQ(t.steps, 7);
  EXPECT_EQ(t.sampler, "euler");
  EXPECT_FLOAT_EQ(t.cfg, 2.5f);
  EXPECT_EQ(t.negative, "blur");
  EXPECT_TRUE(t.loop);
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "a"}, {"loop", "maybe"}}), 400)["param"], "loop");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "a"}, {"seconds", "0.3"}, {"loop", true}}), 400)["param"], "seconds");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "a"}, {"sampler", "ddim"}}), 400)["param"], "sampler");
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "a"}, {"cfg", "lots"}}), 400)["param"], "cfg");
}

TEST_F(Api, WithKeysEachOwnerSeesOnlyItsOwnVideos) {
  const std::string alice = create_api_key(dir.string(), "alice"), bob = create_api_key(dir.string(), "bob");
  EXPECT_EQ(alice.rfind("sk-kinema-", 0), 0u);
  EXPECT_NE(alice, bob);
  auto s = start();
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}}), 401)["code"], "missing_api_key");
  s->key = "sk-kinema-wrong";
  EXPECT_EQ(error_of(s->get("/v1/videos"), 401)["code"], "invalid_api_key");
  s->key = alice;
  const std::string id = json::parse(s->post("/v1/videos", {{"prompt", "mine"}})->body)["id"];
  s->wait_for(id, "completed");
  s->key = bob;
  for (const std::string p : {"", "/content", "/events"}) EXPECT_EQ(s->get("/v1/videos/" + id + p)->status, 404) << p;
  EXPECT_EQ(s->del("/v1/videos/" + id)->status, 404);
  EXPECT_EQ(s->post("/v1/videos/" + id + "/remix", {{"prompt", "x"}})->status, 404);
  EXPECT_TRUE(json::parse(s->get("/v1/videos")->body)["data"].empty());
  s->key = alice;
  EXPECT_EQ(json::parse(s->get("/v1/videos")->body)["data"].size(), 1u);
  // Only hashes are stored.
  std::ifstream db(dir / "jobs.sqlite3", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(db)), {});
  EXPECT_EQ(bytes.find(alice.substr(10)), std::string::npos);
  EXPECT_EQ(revoke_api_keys(dir.string(), "alice"), 1);
  EXPECT_EQ(s->get("/v1/videos")->status, 401);
}

TEST_F(Api, EventsStreamProgressUntilTheJobEnds) {
  stage.set_open(false);
  auto s = start();
  const std::string id = json::parse(s->post("/v1/videos", {{"prompt", "block"}})->body)["id"];
  s->wait_for(id, "in_progress");
  std::string stream;
  std::thread reader([&] {
    httplib::Client c("127.0.0.1", s->server->port());
    c.set_read_timeout(20, 0);
    c.Get(("/v1/videos/" + id + "/events").c_str(), [&](const char* data, size_t n) {
      stream.append(data, n);
      return true;
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stage.set_open(true);
  reader.join();
  EXPECT_NE(stream.find("event: progress\ndata: {"), std::string::npos) << stream;
  EXPECT_NE(stream.find("\"progress\":50"), std::string::npos) << stream;
  const auto last = stream.rfind("event: ");
  ASSERT_NE(last, std::string::npos);
  EXPECT_EQ(stream.substr(last, 17), "event: completed\n") << stream;
  EXPECT_NE(stream.find("\"status\":\"completed\"", last), std::string::npos);
}

TEST_F(Api, ModelsHealthAndMetrics) {
  auto s = start();
  s->wait_for(json::parse(s->post("/v1/videos", {{"prompt", "one"}})->body)["id"], "completed");
  s->wait_for(json::parse(s->post("/v1/videos", {{"prompt", "fail"}})->body)["id"], "failed");
  const json models = json::parse(s->get("/v1/models")->body);
  EXPECT_EQ(models["object"], "list");
  EXPECT_EQ(models["data"][0]["id"], "tiny-test");
  EXPECT_EQ(json::parse(s->get("/v1/models/sora-2")->body)["object"], "model");
  EXPECT_EQ(s->get("/v1/models/gpt-x")->status, 404);
  EXPECT_EQ(json::parse(s->get("/healthz")->body)["status"], "ok");
  const std::string m = s->get("/metrics")->body;
  for (const char* line : {"kinema_queue_length 0\n", "kinema_jobs{status=\"completed\"} 1\n",
                           "kinema_jobs{status=\"failed\"} 1\n", "kinema_renders_total 2\n",
                           "kinema_render_failures_total 1\n", "# TYPE kinema_render_seconds_total counter\n",
                           "kinema_http_requests_total{code=\"200\"}"})
    EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
}

TEST_F(Api, QueuedAndRunningJobsSurviveARestart) {
  stage.set_open(false);
  std::string running, queued;
  {
    auto s = start();
    running = json::parse(s->post("/v1/videos", {{"prompt", "block"}})->body)["id"];
    queued = json::parse(s->post("/v1/videos", {{"prompt", "next"}})->body)["id"];
    s->wait_for(running, "in_progress");
  }  // stopped with one job running and one queued
  stage.set_open(true);
  auto s = start();
  EXPECT_EQ(s->wait_for(running, "completed")["progress"], 100);
  s->wait_for(queued, "completed");
}

TEST_F(Api, EachOwnerHasARateLimitAndAQuota) {
  ServeOptions o = options(dir);
  o.rate_per_minute = 2, o.quota = 3;
  const std::string alice = create_api_key(dir.string(), "alice"), bob = create_api_key(dir.string(), "bob");
  auto s = start(o);
  s->key = alice;
  std::string first;
  for (int i = 0; i < 2; ++i) {
    auto r = s->post("/v1/videos", {{"prompt", "x"}});
    ASSERT_EQ(r->status, 200);
    first = json::parse(r->body)["id"];
  }
  auto r = s->post("/v1/videos", {{"prompt", "x"}});
  EXPECT_EQ(error_of(r, 429)["code"], "rate_limit_exceeded");
  const int wait = std::stoi(r->get_header_value("Retry-After"));
  EXPECT_GE(wait, 1);
  EXPECT_LE(wait, 60);
  s->key = bob;  // another owner has its own budget
  EXPECT_EQ(s->post("/v1/videos", {{"prompt", "x"}})->status, 200);
  s->key = alice;
  s->wait_for(first, "completed");
  o.rate_per_minute = 0;  // a fresh server: only the quota (3 stored) applies
  s = start(o);
  s->key = alice;
  EXPECT_EQ(s->post("/v1/videos", {{"prompt", "x"}})->status, 200);
  EXPECT_EQ(error_of(s->post("/v1/videos", {{"prompt", "x"}}), 429)["code"], "insufficient_quota");
  EXPECT_EQ(s->del("/v1/videos/" + first)->status, 200);
  EXPECT_EQ(s->post("/v1/videos", {{"prompt", "x"}})->status, 200);
}

TEST_F(Api, ThePageIsServedFromTheBinaryWithAStrictContentPolicy) {
  auto s = start();
  auto page = s->get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script src=\"/app.js\">"), std::string::npos);
  EXPECT_EQ(page->body.find("http"), std::string::npos);  // nothing from elsewhere (no CDN)
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(s->get("/app.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(s->get("/style.css")->status, 200);
  EXPECT_EQ(s->get("/../jobs.sqlite3")->status, 404);
  EXPECT_EQ(s->get("/jobs.sqlite3")->status, 404);
}

}  // namespace
}  // namespace kinema::serve::test
