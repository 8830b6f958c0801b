// Faults: `kinema serve` killed with SIGKILL while one job renders and others wait. After a
// restart on the same data directory every job completes, and the interrupted one resumes from
// its last sampling step (the server says so) and makes exactly the frames of an uninterrupted
// render of the same request.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "kinema/media.hpp"
#include "serve_test_util.hpp"
#include "tiny_bundle.hpp"

namespace kinema::serve::test {
namespace {

// `kinema serve` as its own process; its port is read from the line it prints when listening.
struct Process {
  pid_t pid = -1;
  int port = 0;
  Process(const fs::path& data, const fs::path& log) {
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid = ::fork();
    if (pid == 0) {
      ::dup2(out[1], 1);
      const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(err, 2);
      ::close(out[0]);
      const std::string bundle = tiny_bundle().string(), dir = data.string();
      ::execl(KINEMA_CLI_PATH, "kinema", "serve", "--data", dir.c_str(), "--model", bundle.c_str(), "--port", "0",
              "--no-frame-review", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    FILE* f = ::fdopen(out[0], "r");
    char line[512] = {0};
    if (std::fgets(line, sizeof line, f))
      if (const char* at = std::strstr(line, "127.0.0.1:")) std::sscanf(at, "127.0.0.1:%d", &port);
    std::fclose(f);
    EXPECT_GT(port, 0) << "the server did not start: " << line;
  }
  void kill9() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
  ~Process() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

struct Client {
  httplib::Client c;
  explicit Client(int port) : c("127.0.0.1", port) { c.set_read_timeout(20, 0); }
  json get(const std::string& path) {
    auto r = c.Get(path.c_str());
    return r && r->status == 200 ? json::parse(r->body) : json();
  }
  std::string create(const json& body) {
    auto r = c.Post("/v1/videos", body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200);
    return r && r->status == 200 ? json::parse(r->body)["id"].get<std::string>() : "";
  }
  json wait_for(const std::string& id, const std::string& status, double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    json v;
    while (std::chrono::steady_clock::now() < end) {
      v = get("/v1/videos/" + id);
      if (v.is_object() && v["status"] == status) return v;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << id << " never reached " << status << ": " << v.dump();
    return v;
  }
  std::vector<Frame> frames(const std::string& id, const fs::path& to) {
    auto r = c.Get(("/v1/videos/" + id + "/content").c_str());
    EXPECT_TRUE(r && r->status == 200);
    std::ofstream(to, std::ios::binary) << (r ? r->body : "");
    return read_video(to.string());
  }
};

TEST(Resume, AKilledServerFinishesEveryJobAndTheInterruptedOneFromItsLastStep) {
  const fs::path dir = fresh_dir("resume"), data = dir / "data", log = dir / "server.log";
  ::setenv("KINEMA_CONFIG_DIR", (dir / "config").c_str(), 1);
  ::setenv("OMP_NUM_THREADS", "1", 1);
  tiny_bundle();  // written before the server starts
  const json slow = {{"prompt", "a red circle moves right"}, {"seconds", "1.3"}, {"size", "48x32"},
                     {"steps", 200}, {"seed", 11}};
  std::string interrupted, reference, queued;
  {
    Process server(data, log);
    Client c(server.port);
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
  Process server(data, log);
  Client c(server.port);
  c.wait_for(interrupted, "completed", 120);
  c.wait_for(reference, "completed", 120);
  c.wait_for(queued, "completed", 60);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find(interrupted + " resumes after sampling step "), std::string::npos) << text;
  const std::vector<Frame> a = c.frames(interrupted, dir / "a.mp4"), b = c.frames(reference, dir / "b.mp4");
  ASSERT_EQ(a.size(), 17u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].rgb, b[i].rgb) << "frame " << i;
  EXPECT_FALSE(fs::exists(data / "checkpoints" / (interrupted + ".ckpt")));  // removed when done
}

}  // namespace
}  // namespace kinema::serve::test
