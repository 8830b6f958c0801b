// Faults: `kinema serve` killed with SIGKILL while one job renders and others wait. After a
// restart on the same data directory every job completes, and the interrupted one resumes from
// its last sampling step (the server says so) and makes exactly the frames of an uninterrupted
// render of the same request.
#include "serve_process.hpp"

namespace kinema::serve::test {
namespace {

TEST(Resume, AKilledServerFinishesEveryJobAndTheInterruptedOneFromItsLastStep) {
  const fs::path dir = fresh_dir("resume"), data = dir / "data", log = dir / "server.log";
  ::setenv("KINEMA_CONFIG_DIR", (dir / "config").c_str(), 1);
  ::setenv("OMP_NUM_THREADS", "1", 1);
  tiny_bundle();  // written before the server starts
  const json slow = {{"prompt", "a red circle moves right"}, {"seconds", "1.3"}, {"size", "48x32"},
                     {"steps", 200}, {"seed", 11}};
  std::string interrupted, reference, queued;
  {
    ServeProcess server(data, log);
    ServeClient c(server.port);
    interrupted = c.create(slow);
    reference = c.create(slow);  // the same request, rendered without interruption later
    queued = c.create({{"prompt", "a blue star"}, {"seconds", "0.3"}, {"steps", 2}});
    // Kill it a third of the way into the first render.
    for (int i = 0; i < 3000; ++i) {
      const json v = c.get("/v1/videos/" + interrupted);
      if (v.is_object() && v["progress"].get<int>() >= 30) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(c.get("/v1/videos/" + interrupted)["status"], "in_progress");
    server.kill9();
  }
  EXPECT_TRUE(fs::exists(data / "checkpoints" / (interrupted + ".ckpt")));
  ServeProcess server(data, log);
  ServeClient c(server.port);
  c.wait_for(interrupted, "completed", 120);
  c.wait_for(reference, "completed", 120);
  c.wait_for(queued, "completed", 60);
  const std::string text = read_text(log);
  EXPECT_NE(text.find(interrupted + " resumes after sampling step "), std::string::npos) << text;
  const std::vector<Frame> a = c.frames(interrupted, dir / "a.mp4"), b = c.frames(reference, dir / "b.mp4");
  ASSERT_EQ(a.size(), 17u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].rgb, b[i].rgb) << "frame " << i;
  EXPECT_FALSE(fs::exists(data / "checkpoints" / (interrupted + ".ckpt")));  // removed when done
}

// A video longer than one chunk (generate_long): the server logs the frames each chunk made and
// a killed render goes on from its last chunk and sampling step, not from the start.
TEST(Resume, AKilledLongRenderGoesOnFromItsLastChunk) {
  const fs::path dir = fresh_dir("resume_long"), data = dir / "data", log = dir / "server.log";
  ::setenv("KINEMA_CONFIG_DIR", (dir / "config").c_str(), 1);
  ::setenv("OMP_NUM_THREADS", "1", 1);
  tiny_bundle();
  // 37 frames: chunks of 17, 8, 8 and 4 new frames on the tiny model.
  const json slow = {{"prompt", "a red circle moves right"}, {"seconds", "3"}, {"size", "48x32"},
                     {"steps", 60}, {"seed", 5}};
  std::string interrupted, reference;
  {
    ServeProcess server(data, log);
    ServeClient c(server.port);
    interrupted = c.create(slow);
    reference = c.create(slow);
    // Kill it early in the third chunk (frames 25 to 33: progress 67% to 89%).
    for (int i = 0; i < 6000; ++i) {
      const json v = c.get("/v1/videos/" + interrupted);
      if (v.is_object() && v["progress"].get<int>() >= 70) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(c.get("/v1/videos/" + interrupted)["status"], "in_progress");
    server.kill9();
  }
  const fs::path frames = data / "checkpoints" / (interrupted + ".ckpt.frames");
  ASSERT_TRUE(fs::exists(frames));
  EXPECT_GE(fs::file_size(frames), 25u * 48 * 32 * 3);  // two chunks logged
  ServeProcess server(data, log);
  ServeClient c(server.port);
  c.wait_for(interrupted, "completed", 180);
  c.wait_for(reference, "completed", 180);
  const std::string text = read_text(log);
  EXPECT_NE(text.find(interrupted + " resumes after 25 frames and sampling step "), std::string::npos) << text;
  const std::vector<Frame> a = c.frames(interrupted, dir / "a.mp4"), b = c.frames(reference, dir / "b.mp4");
  ASSERT_EQ(a.size(), 37u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].rgb, b[i].rgb) << "frame " << i;
  EXPECT_FALSE(fs::exists(frames));  // removed when done
  EXPECT_FALSE(fs::exists(data / "checkpoints" / (interrupted + ".ckpt")));
}

}  // namespace
}  // namespace kinema::serve::test
