#include "serve/runner.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "serve/random_id.hpp"

namespace kinema::serve {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Cancelled {};
struct LeaseLost {};

std::string host_and_pid() {
  char host[256] = "host";
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}

RenderTask task_of(const Job& job, const std::string& videos, const std::string& uploads) {
  const json p = json::parse(job.params);
  RenderTask t;
  t.id = job.id, t.prompt = job.prompt;
  t.negative = p.value("negative", "");
  t.width = p.at("width"), t.height = p.at("height"), t.frames = p.at("frames"), t.fps = p.at("fps");
  t.seed = p.value("seed", uint64_t(0)), t.steps = p.value("steps", 0), t.sampler = p.value("sampler", "");
  t.cfg = p.value("cfg", -1.f);
  t.loop = p.value("loop", false);
  t.strength = p.value("strength", -1.f);
  if (const std::string in = p.value("input_reference", ""); !in.empty()) t.input_reference = uploads + "/" + in;
  // A source is a stored video (videos/) or an uploaded one (uploads/, the *_upload keys).
  if (const std::string src = p.value("remix_source", ""); !src.empty()) t.remix_source = videos + "/" + src;
  if (const std::string src = p.value("remix_source_upload", ""); !src.empty()) t.remix_source = uploads + "/" + src;
  if (const std::string src = p.value("extend_source", ""); !src.empty()) t.extend_source = videos + "/" + src;
  if (const std::string src = p.value("extend_source_upload", ""); !src.empty()) t.extend_source = uploads + "/" + src;
  if (!t.extend_source.empty()) t.extend_frames = p.value("extend_frames", 0);
  t.storyboard = p.value("storyboard", ""), t.shot_frames = p.value("shot_frames", 0);
  if (const std::string to = p.value("join_source", ""); !to.empty()) t.join_source = videos + "/" + to;
  if (!t.join_source.empty()) t.join_frames = p.value("join_frames", 0);
  return t;
}

void remove_files(const std::vector<std::string>& paths) {
  std::error_code ec;
  for (const auto& p : paths) fs::remove(p, ec);
}

// A render's resume state: the sampler's checkpoint and, for a long video, its frame log.
std::vector<std::string> checkpoint_files(const std::string& checkpoint) { return {checkpoint, checkpoint + ".frames"}; }

}  // namespace

Runner::Runner(JobStore& store, std::string data_dir, int workers, RendererFactory factory, int64_t retention_s)
    : store_(store),
      data_dir_(std::move(data_dir)),
      workers_(std::max(1, workers)),
      factory_(std::move(factory)),
      retention_s_(retention_s),
      host_(host_and_pid()),
      leases_(store) {}

Runner::~Runner() { stop(); }

void Runner::start() {
  leases_.start();
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this, i] { loop(i); });
}

void Runner::stop() {
  stop_ = true;
  {
    std::lock_guard lock(mu_);
    queue_cv_.notify_all();
  }
  notify();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  leases_.stop();
}

void Runner::wake() {
  std::lock_guard lock(mu_);
  queue_cv_.notify_one();
}

void Runner::cancel(const std::string& id) {
  std::lock_guard lock(mu_);
  cancelled_.insert(id);
}

bool Runner::is_cancelled(const std::string& id) {
  std::lock_guard lock(mu_);
  return cancelled_.count(id) > 0 || stop_;
}

void Runner::notify() {
  {
    std::lock_guard lock(event_mu_);
    ++events_;
  }
  event_cv_.notify_all();
}

uint64_t Runner::wait_event(uint64_t seen, int timeout_ms) {
  std::unique_lock lock(event_mu_);
  event_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return events_ > seen || stop_; });
  return events_;
}

RunnerMetrics Runner::metrics() const {
  std::lock_guard lock(const_cast<std::mutex&>(mu_));
  return metrics_;
}

std::string Runner::path_of(const std::string& file) const { return data_dir_ + "/videos/" + file; }

std::string Runner::worker_name(int index) const { return host_ + "/" + std::to_string(index); }

void Runner::loop(int index) {
  const std::string worker = worker_name(index);
  std::unique_ptr<Renderer> renderer;
  while (!stop_) {
    std::optional<Job> job;
    try {
      job = store_.claim_next(worker);
    } catch (const Error&) {
      job.reset();  // a busy database: try again shortly
    }
    if (!job) {
      std::unique_lock lock(mu_);
      queue_cv_.wait_for(lock, std::chrono::milliseconds(500));
      continue;
    }
    if (job->attempts > 1)
      std::fprintf(stderr, "kinema serve: %s takes over %s (claim %d)\n", worker.c_str(), job->id.c_str(), job->attempts);
    ++busy_;
    notify();
    leases_.hold(*job);
    run(*job, renderer);
    leases_.release(job->id);
    --busy_;
    notify();
  }
}

void Runner::run(const Job& job, std::unique_ptr<Renderer>& renderer) {
  const std::string videos = data_dir_ + "/videos", uploads = data_dir_ + "/uploads";
  const std::string name = random_hex(16);
  const json files = {{"video", name + ".mp4"}, {"thumbnail", name + ".thumb.png"},
                      {"spritesheet", name + ".sprites.png"}};
  std::vector<std::string> paths;  // video, thumbnail, spritesheet
  for (const char* v : {"video", "thumbnail", "spritesheet"}) paths.push_back(videos + "/" + files[v].get<std::string>());
  const std::string checkpoint = data_dir_ + "/checkpoints/" + job.id + ".ckpt";
  fs::create_directories(data_dir_ + "/checkpoints");
  const auto started = std::chrono::steady_clock::now();
  int last = -1;
  std::string code, message;
  bool refused = false, cancelled = false;
  try {
    RenderTask task = task_of(job, videos, uploads);
    task.video_path = paths[0], task.thumbnail_path = paths[1], task.spritesheet_path = paths[2];
    task.checkpoint_path = checkpoint;
    if (!renderer) renderer = factory_();
    renderer->render(task, [&](double fraction) {
      if (is_cancelled(job.id)) throw Cancelled{};
      if (leases_.lost(job.id)) throw LeaseLost{};
      const int pct = std::clamp(int(std::floor(fraction * 100)), 0, 99);
      if (pct == last) return;
      last = pct;
      bool held = true;
      try {
        held = store_.renew(job.id, job.lease, pct);
      } catch (const Error&) {
        // The database is out of reach for now: keep rendering, the lease keeper retries.
      }
      if (!held) throw LeaseLost{};
      notify();
    });
  } catch (const Cancelled&) {
    cancelled = true;
  } catch (const LeaseLost&) {
    leases_.mark_lost(job.id);
  } catch (const Error& e) {
    refused = e.kind() == ErrorKind::refused;
    code = refused ? "moderation_blocked" : "render_failed", message = e.what();
  } catch (const std::exception& e) {
    code = "internal_error", message = std::string("internal error: ") + e.what();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard lock(mu_);
    metrics_.render_seconds += seconds;
    ++metrics_.renders;
    metrics_.failures += !code.empty() && !refused;
    metrics_.refusals += refused;
    metrics_.cancelled += cancelled;
    cancelled_.erase(job.id);
  }
  if (cancelled) {
    remove_files(paths);
    // Shutting down: the job is claimed again (here after a restart, or by another server once
    // its lease runs out) and resumes from its checkpoint.
    if (!stop_ || !store_.get(job.id)) remove_files(checkpoint_files(checkpoint));
    return;
  }
  finish(job, code, message, files.dump(), paths);
}

// Records the outcome under the job's lease. A lost lease leaves the job and its checkpoint to the
// worker that holds it now (or to nobody, when it was deleted) and drops what this one made.
void Runner::finish(const Job& job, const std::string& code, const std::string& message, const std::string& files,
                    const std::vector<std::string>& paths) {
  const std::string checkpoint = data_dir_ + "/checkpoints/" + job.id + ".ckpt";
  if (leases_.lost(job.id)) {
    remove_files(paths);
    if (!store_.get(job.id)) remove_files(checkpoint_files(checkpoint));
    else std::fprintf(stderr, "kinema serve: %s lost the lease on %s to another worker; dropped its render\n",
                      job.worker.c_str(), job.id.c_str());
    return;
  }
  // Removed before the job is marked done, so a finished job never leaves one behind; a worker
  // that took the job over meanwhile writes its own at its next step.
  remove_files(checkpoint_files(checkpoint));
  if (!code.empty()) {
    remove_files(paths);
    store_.fail(job.id, job.lease, code, message, unix_now());
    return;
  }
  const int64_t now = unix_now();
  if (!store_.complete(job.id, job.lease, files, now, retention_s_ > 0 ? now + retention_s_ : 0))
    remove_files(paths);  // deleted or taken over
}

}  // namespace kinema::serve
