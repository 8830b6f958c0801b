#include "serve/lease_keeper.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "kinema/error.hpp"

namespace kinema::serve {

void LeaseKeeper::start() {
  std::lock_guard lock(mu_);
  stop_ = false;
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void LeaseKeeper::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaseKeeper::hold(const Job& job) {
  std::lock_guard lock(mu_);
  held_[job.id] = job.lease;
  lost_.erase(job.id);
}

void LeaseKeeper::release(const std::string& id) {
  std::lock_guard lock(mu_);
  held_.erase(id);
  lost_.erase(id);
}

void LeaseKeeper::mark_lost(const std::string& id) {
  std::lock_guard lock(mu_);
  lost_.insert(id);
}

bool LeaseKeeper::lost(const std::string& id) const {
  std::lock_guard lock(mu_);
  return lost_.count(id) > 0;
}

void LeaseKeeper::loop() {
  const auto period = std::chrono::milliseconds(std::max<int64_t>(100, store_.lease_ms() / 3));
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
    const std::map<std::string, std::string> held = held_;
    lock.unlock();
    std::vector<std::pair<std::string, std::string>> refused;
    for (const auto& [id, lease] : held) {
      try {
        if (!store_.renew(id, lease)) refused.emplace_back(id, lease);
      } catch (const Error&) {
        // The database is unreachable for now: try again next period (the lease may run out).
      }
    }
    lock.lock();
    for (const auto& [id, lease] : refused)
      if (auto it = held_.find(id); it != held_.end() && it->second == lease) lost_.insert(id);
  }
}

}  // namespace kinema::serve
