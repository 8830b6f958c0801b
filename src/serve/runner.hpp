// The workers behind the queue: each claims the oldest queued job (or one whose lease ran out)
// from the store, renders it with its own Renderer (made on the worker's thread, so a slow model
// load never blocks HTTP), and records progress, the stored files or the error, every write under
// the job's lease. DELETE of a running job cancels it at the next progress report; so does losing
// the lease (a fleet: the job was deleted through another server, or taken over). Every change
// bumps an event counter that SSE streams wait on.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kinema/serve.hpp"
#include "serve/job_store.hpp"
#include "serve/lease_keeper.hpp"

namespace kinema::serve {

struct RunnerMetrics {
  double render_seconds = 0;   // total wall time spent rendering
  int64_t renders = 0, failures = 0, refusals = 0, cancelled = 0;
};

class Runner {
 public:
  // retention_s: a completed job's expires_at is completed_at + retention_s (0: never expires).
  Runner(JobStore& store, std::string data_dir, int workers, RendererFactory factory, int64_t retention_s = 0);
  ~Runner();  // stops and joins
  void start();
  void stop();
  void wake();                            // a job was queued
  void cancel(const std::string& id);     // stop this job if it is running
  void notify();                          // something changed: wake SSE streams
  // Waits until the event counter passes `seen` or `timeout_ms` ends; returns the counter.
  uint64_t wait_event(uint64_t seen, int timeout_ms);
  uint64_t events() const { return events_.load(); }
  RunnerMetrics metrics() const;
  int busy() const { return busy_.load(); }
  std::string path_of(const std::string& file) const;  // data_dir/videos/<file>
  std::string worker_name(int index) const;            // "HOST:PID/INDEX", recorded on the jobs it claims

 private:
  void loop(int index);
  void run(const Job& job, std::unique_ptr<Renderer>& renderer);
  void finish(const Job& job, const std::string& code, const std::string& message, const std::string& files,
              const std::vector<std::string>& paths);
  bool is_cancelled(const std::string& id);

  JobStore& store_;
  std::string data_dir_;
  int workers_;
  RendererFactory factory_;
  int64_t retention_s_;
  std::string host_;  // this process: "HOST:PID"
  LeaseKeeper leases_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> busy_{0};
  std::mutex mu_;  // queue wake-up, cancel set and metrics
  std::condition_variable queue_cv_;
  std::set<std::string> cancelled_;
  RunnerMetrics metrics_;
  std::mutex event_mu_;
  std::condition_variable event_cv_;
  std::atomic<uint64_t> events_{0};
};

}  // namespace kinema::serve
