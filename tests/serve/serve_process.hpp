// The real `kinema serve` (KINEMA_CLI_PATH) in its own process, so a test can kill it with
// SIGKILL; its port is read from the line it prints when listening, its stderr goes to a log.
// A small HTTP client for such a server beside it.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kinema/media.hpp"
#include "serve_test_util.hpp"
#include "tiny_bundle.hpp"

namespace kinema::serve::test {

struct ServeProcess {
  pid_t pid = -1;
  int port = 0;
  // Serves the tiny bundle over `data`; `extra` flags follow (e.g. --queue URL).
  ServeProcess(const fs::path& data, const fs::path& log, const std::vector<std::string>& extra = {}) {
    const std::string bundle = tiny_bundle().string(), dir = data.string();
    std::vector<std::string> args = {"kinema", "serve", "--data", dir, "--model", bundle, "--port", "0",
                                     "--no-frame-review"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid = ::fork();
    if (pid == 0) {
      ::dup2(out[1], 1);
      const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(err, 2);
      ::close(out[0]);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // no server outlives a test that died
      ::execv(KINEMA_CLI_PATH, argv.data());
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
  ~ServeProcess() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

struct ServeClient {
  httplib::Client c;
  explicit ServeClient(int port) : c("127.0.0.1", port) { c.set_read_timeout(20, 0); }
  json get(const std::string& path) {
    auto r = c.Get(path.c_str());
    return r && r->status == 200 ? json::parse(r->body) : json();
  }
  std::string create(const json& body) {
    auto r = c.Post("/v1/videos", body.dump(), "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
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

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace kinema::serve::test
