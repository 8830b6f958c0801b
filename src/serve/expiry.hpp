// Expiry of stored videos (ServeOptions::retention_hours): a completed job carries expires_at =
// completed_at + retention; once that has passed, its files (video, thumbnail, spritesheet and
// its uploads) are removed and the job is marked expired. The video object stays, as OpenAI's
// does: status "completed" with its expires_at in the past; its content answers 404
// video_expired. The sweeper runs at start and then every minute (or every half retention when
// that is shorter). Several servers on one queue may sweep the same job: removing files twice is
// harmless and mark_expired() is idempotent.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "serve/job_store.hpp"

namespace kinema::serve {

// Removes the job's stored files: its variants under videos/ and its uploads (input reference,
// uploaded source video). Missing files are fine.
void remove_job_files(const std::string& data_dir, const Job& job);

// True when the job's files are gone or due to go (the sweeper may not have run yet).
bool is_expired(const Job& job, int64_t now);

// One pass: expires every job due at `now`; returns how many.
int sweep_expired(JobStore& store, const std::string& data_dir, int64_t now);

class ExpirySweeper {
 public:
  // on_change runs after a pass that expired something (the server wakes its event streams).
  ExpirySweeper(JobStore& store, std::string data_dir, int64_t retention_s, std::function<void()> on_change);
  ~ExpirySweeper();  // stops
  void start();      // no-op when retention is 0
  void stop();

 private:
  void loop();
  JobStore& store_;
  std::string data_dir_;
  int64_t interval_ms_;
  std::function<void()> on_change_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace kinema::serve
