// What the API tests share: a stand-in renderer (no model) steered by the prompt, a fixture that
// starts a server on it over a fresh data directory, and a check of OpenAI's error object.
#pragma once
#include <condition_variable>
#include <mutex>
#include <vector>

#include "kinema/error.hpp"
#include "serve_test_util.hpp"

namespace kinema::serve::test {

// Prompts steer it: "refuse" is a policy refusal, "fail" a failure, "block" waits for open().
struct Stage {
  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
  std::vector<RenderTask> seen;
  int cancelled = 0;
  void set_open(bool o) {
    std::lock_guard lock(mu);
    open = o;
    cv.notify_all();
  }
};

class FakeRenderer : public Renderer {
 public:
  explicit FakeRenderer(Stage& s) : s_(s) {}
  void render(const RenderTask& t, const RenderProgress& progress) override {
    {
      std::lock_guard lock(s_.mu);
      s_.seen.push_back(t);
    }
    if (t.prompt.find("refuse") != std::string::npos)
      refuse("prompt policy", "refused (violence) by rule 'lexicon test' on 'refuse': not allowed");
    if (t.prompt.find("fail") != std::string::npos) fail("render", "the model ran out of memory");
    progress(0.5);
    if (t.prompt.find("block") != std::string::npos) {
      try {
        std::unique_lock lock(s_.mu);
        while (!s_.open) {
          s_.cv.wait_for(lock, std::chrono::milliseconds(10));
          lock.unlock();
          progress(0.5);  // throws once the job is cancelled
          lock.lock();
        }
      } catch (...) {
        std::lock_guard lock(s_.mu);
        ++s_.cancelled;
        throw;
      }
    }
    std::ofstream(t.video_path) << "FAKEMP4 " << t.prompt;
    std::ofstream(t.thumbnail_path) << "THUMB";
    std::ofstream(t.spritesheet_path) << "SPRITES";
  }

 private:
  Stage& s_;
};

inline ServeOptions options(const fs::path& dir) {
  ServeOptions o;
  o.data_dir = dir.string();
  o.model.name = "tiny-test", o.model.sizes = {{32, 32}, {48, 32}}, o.model.fps = 12, o.model.frames = 5;
  return o;
}

struct Api : ::testing::Test {
  Stage stage;
  fs::path dir = fresh_dir("api");
  RendererFactory factory() {
    return [this] { return std::make_unique<FakeRenderer>(stage); };
  }
  std::unique_ptr<Running> start(ServeOptions o) { return std::make_unique<Running>(o, factory()); }
  std::unique_ptr<Running> start() { return start(options(dir)); }
};

inline json error_of(const httplib::Result& r, int status) {
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_EQ(r->status, status) << r->body;
  const json j = json::parse(r->body, nullptr, false);
  EXPECT_TRUE(j.contains("error")) << r->body;
  if (!j.contains("error")) return {};
  for (const char* k : {"message", "type", "param", "code"}) EXPECT_TRUE(j["error"].contains(k)) << k;
  return j["error"];
}

}  // namespace kinema::serve::test
