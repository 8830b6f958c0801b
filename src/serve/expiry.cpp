#include "serve/expiry.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"

namespace kinema::serve {

namespace fs = std::filesystem;
using nlohmann::json;

void remove_job_files(const std::string& data_dir, const Job& j) {
  std::error_code ec;
  const json files = json::parse(j.files.empty() ? "{}" : j.files, nullptr, false);
  if (files.is_object())
    for (const auto& [k, v] : files.items())
      if (v.is_string()) fs::remove(data_dir + "/videos/" + v.get<std::string>(), ec);
  const json p = json::parse(j.params, nullptr, false);
  if (!p.is_object()) return;
  for (const char* k : {"input_reference", "remix_source_upload", "extend_source_upload"})
    if (p.contains(k) && p[k].is_string()) fs::remove(data_dir + "/uploads/" + p[k].get<std::string>(), ec);
}

bool is_expired(const Job& j, int64_t now) { return j.expired || (j.expires_at > 0 && j.expires_at <= now); }

int sweep_expired(JobStore& store, const std::string& data_dir, int64_t now) {
  int n = 0;
  for (;;) {
    const std::vector<Job> due = store.due_to_expire(now, 100);
    for (const Job& j : due) {
      remove_job_files(data_dir, j);
      n += store.mark_expired(j.id);
    }
    if (due.size() < 100) return n;
  }
}

// Every minute, or every half retention when that is shorter (a test's seconds), at least 1 s.
ExpirySweeper::ExpirySweeper(JobStore& store, std::string data_dir, int64_t retention_s,
                             std::function<void()> on_change)
    : store_(store),
      data_dir_(std::move(data_dir)),
      interval_ms_(retention_s > 0 ? std::clamp<int64_t>(retention_s * 500, 1000, 60000) : 0),
      on_change_(std::move(on_change)) {}

ExpirySweeper::~ExpirySweeper() { stop(); }

void ExpirySweeper::start() {
  if (interval_ms_ > 0 && !thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void ExpirySweeper::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ExpirySweeper::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    try {
      if (sweep_expired(store_, data_dir_, unix_now()) > 0 && on_change_) on_change_();
    } catch (const Error& e) {  // a database out of reach: try again at the next pass
      std::fprintf(stderr, "kinema serve: expiry sweep failed: %s\n", e.what());
    }
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stop_; });
  }
}

}  // namespace kinema::serve
