// A fleet: three `kinema serve` processes (the real CLI) share one PostgreSQL queue (a server the
// test starts) and one data directory. Thirty jobs go in over HTTP, spread across the three; the
// server rendering the long one is killed with SIGKILL a third of the way in. Every job completes
// exactly once (one completion per row, one video per job), any server answers for any job, and
// the killed server's job is taken over once its lease runs out and resumes from its checkpoint.
// API keys live in the queue too: one made with `kinema keys` for it opens every server.
#include <map>
#include <set>

#include "pg_test_server.hpp"
#include "serve/job_store.hpp"
#include "serve_process.hpp"

namespace kinema::serve::test {
namespace {

// "HOST:PID/INDEX" -> PID
pid_t pid_of_worker(const std::string& worker) {
  const size_t colon = worker.rfind(':'), slash = worker.rfind('/');
  return colon == std::string::npos ? -1 : pid_t(std::stol(worker.substr(colon + 1, slash - colon - 1)));
}

int count_files(const fs::path& dir, const std::string& ext) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ext;
  return n;
}

std::string video_of(const Job& j) { return json::parse(j.files).value("video", ""); }

// The step the takeover resumed after, from "JOB resumes after sampling step N" in any log.
int resumed_step(const std::vector<fs::path>& logs, const std::string& id) {
  const std::string key = id + " resumes after sampling step ";
  for (const auto& log : logs) {
    const std::string text = read_text(log);
    if (const size_t at = text.find(key); at != std::string::npos) return std::atoi(text.c_str() + at + key.size());
  }
  return -1;
}

TEST(Fleet, ThreeServersOnOneQueueCompleteEveryJobOnceThoughOneIsKilled) {
  const auto started = std::chrono::steady_clock::now();
  const fs::path dir = fresh_dir("fleet"), data = dir / "data";
  ::setenv("KINEMA_CONFIG_DIR", (dir / "config").c_str(), 1);
  ::setenv("OMP_NUM_THREADS", "1", 1);
  tiny_bundle();
  const std::string queue = PgTestServer::get().fresh_database("fleet");
  std::vector<std::unique_ptr<ServeProcess>> servers;
  std::vector<std::unique_ptr<ServeClient>> clients;
  std::vector<fs::path> logs;
  for (int i = 0; i < 3; ++i) {
    logs.push_back(dir / ("server" + std::to_string(i) + ".log"));
    servers.push_back(std::make_unique<ServeProcess>(data, logs.back(),
                                                     std::vector<std::string>{"--queue", queue + "?lease=2"}));
    clients.push_back(std::make_unique<ServeClient>(servers.back()->port));
  }
  const auto store = open_job_store(queue, "", Recovery::none);  // to read the rows

  // The long job first in line, then 29 short ones, each server taking a third of the requests.
  const int steps = 200;  // the most a request may ask for
  std::vector<std::string> ids = {clients[0]->create({{"prompt", "a red circle moves right"}, {"seconds", "1.3"},
                                                      {"size", "48x32"}, {"steps", steps}, {"seed", 11}})};
  for (int i = 1; i < 30; ++i)
    ids.push_back(clients[size_t(i % 3)]->create(
        {{"prompt", "a blue star " + std::to_string(i)}, {"seconds", "0.3"}, {"steps", 2}, {"seed", i}}));
  const std::string& slow = ids[0];

  // Kill whichever server renders the long job, a fifth of the way in.
  for (int i = 0; i < 6000 && store->get(slow)->progress < 20; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const Job running = *store->get(slow);
  ASSERT_EQ(running.status, "in_progress");
  const pid_t killed = pid_of_worker(running.worker);
  size_t victim = 0;
  while (victim < servers.size() && servers[victim]->pid != killed) ++victim;
  ASSERT_LT(victim, servers.size()) << "no server has pid of worker " << running.worker;
  servers[victim]->kill9();
  EXPECT_TRUE(fs::exists(data / "checkpoints" / (slow + ".ckpt")));

  // Everything completes on the two that are left.
  for (int i = 0; i < 900 && store->count_by_status()["completed"] < 30; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto counts = store->count_by_status();
  ASSERT_EQ(counts.at("completed"), 30) << "queued " << counts.at("queued") << ", in progress "
                                        << counts.at("in_progress") << ", failed " << counts.at("failed");

  std::map<std::string, int> by_worker;
  std::set<std::string> videos;
  int completions = 0;
  for (const auto& id : ids) {
    const Job j = *store->get(id);
    EXPECT_EQ(j.completions, 1) << id;
    EXPECT_TRUE(fs::exists(data / "videos" / video_of(j))) << id;
    videos.insert(video_of(j));
    completions += j.completions;
    by_worker[j.worker] += j.completions;
    EXPECT_NE(pid_of_worker(j.worker), killed) << id << " completed by the killed server";
    for (size_t s = 0; s < servers.size(); ++s)  // any server answers for any job
      if (s != victim) EXPECT_EQ(clients[s]->get("/v1/videos/" + id)["status"], "completed") << id;
  }
  EXPECT_EQ(videos.size(), 30u);
  // One video per job and none made twice; the killed render may have left its open output file.
  EXPECT_LE(count_files(data / "videos", ".mp4"), 31);
  const Job taken = *store->get(slow);
  EXPECT_EQ(taken.attempts, 2);
  const int step = resumed_step(logs, slow);
  EXPECT_GT(step, 0) << "the long job did not resume from its checkpoint";
  EXPECT_FALSE(fs::exists(data / "checkpoints" / (slow + ".ckpt")));
  EXPECT_EQ(clients[(victim + 1) % 3]->frames(slow, dir / "slow.mp4").size(), 17u);

  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string per_worker;
  for (const auto& [w, n] : by_worker) per_worker += (per_worker.empty() ? "" : ", ") + w + " " + std::to_string(n);
  std::printf("fleet: %zu jobs, %d completions (%s; killed pid %d: 0), %d duplicates, 1 job resumed after "
              "step %d of %d by another server, wall %.1f s\n",
              ids.size(), completions, per_worker.c_str(), int(killed), completions - int(ids.size()), step, steps,
              wall);
}

TEST(Fleet, AKeyMadeForTheQueueGuardsEveryServerOfIt) {
  const fs::path dir = fresh_dir("fleet_keys"), data = dir / "data";
  ::setenv("KINEMA_CONFIG_DIR", (dir / "config").c_str(), 1);
  const std::string queue = PgTestServer::get().fresh_database("fleet_keys");
  ServeProcess a(data, dir / "a.log", {"--queue", queue}), b(data, dir / "b.log", {"--queue", queue});
  FILE* p = ::popen((std::string(KINEMA_CLI_PATH) + " keys create --queue '" + queue + "' --data '" + data.string() +
                     "' --owner alice 2>/dev/null").c_str(), "r");
  char line[128] = {0};
  ASSERT_TRUE(std::fgets(line, sizeof line, p));
  ASSERT_EQ(::pclose(p), 0);
  const std::string key = std::string(line).substr(0, std::strlen(line) - 1);
  for (const int port : {a.port, b.port}) {
    httplib::Client c("127.0.0.1", port);
    EXPECT_EQ(c.Get("/v1/videos")->status, 401) << port;
    EXPECT_EQ(c.Get("/v1/videos", {{"Authorization", "Bearer " + key}})->status, 200) << port;
  }
  EXPECT_FALSE(fs::exists(data / "jobs.sqlite3"));  // nothing went to a local store
}

}  // namespace
}  // namespace kinema::serve::test
