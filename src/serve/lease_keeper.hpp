// Keeps the leases of the jobs this server renders alive: a thread renews each one every third of
// the lease, so a model load or a slow sampling step never lets a lease run out while the worker
// is alive. A renewal the store refuses means the job was deleted or another worker took it over;
// the render sees lost() at its next progress report and stops without touching the job.
#pragma once
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "serve/job_store.hpp"

namespace kinema::serve {

class LeaseKeeper {
 public:
  explicit LeaseKeeper(JobStore& store) : store_(store) {}
  ~LeaseKeeper() { stop(); }
  void start();
  void stop();
  void hold(const Job& job);              // renew job.lease until release()
  void release(const std::string& id);
  void mark_lost(const std::string& id);  // a write with the lease was refused
  bool lost(const std::string& id) const;

 private:
  void loop();
  JobStore& store_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, std::string> held_;  // job id -> lease token
  std::set<std::string> lost_;
};

}  // namespace kinema::serve
