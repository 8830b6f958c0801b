// The server's durable state: jobs and API key hashes in one SQLite database (WAL journal) under
// the data directory. Every method is one short transaction behind a mutex, so the HTTP threads
// and the workers share one connection. Queued jobs are claimed oldest first; a job that was
// in progress when the server died goes back to the queue on open.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace kinema::serve {

struct Job {
  std::string id;            // "video_" + 32 random hex digits
  std::string owner;         // the API key's owner ("local" when keys are off)
  std::string status = "queued";  // queued | in_progress | completed | failed
  int progress = 0;          // 0..100
  int64_t created_at = 0, completed_at = 0, expires_at = 0;  // unix seconds; 0 = null
  std::string model, prompt;
  std::string seconds, size;  // what was used (the API's strings)
  std::string remixed_from;   // "" = null
  std::string error_code, error_message;  // "" = no error
  std::string params;         // JSON: the resolved render (frames, fps, seed, ...) and what was asked
  std::string files;          // JSON: stored file names by variant, input reference
};

struct ListQuery {
  std::string owner;
  std::string after;   // a job id: list those after it in `order`
  int limit = 20;
  bool ascending = false;
};

struct ListResult {
  std::vector<Job> jobs;
  bool has_more = false;
};

// The server requeues in_progress jobs when it opens the store; `kinema keys` must not (a server
// may be rendering them right now).
enum class Recovery { requeue_running, none };

class JobStore {
 public:
  // Creates the schema if needed.
  explicit JobStore(const std::string& path, Recovery recovery = Recovery::requeue_running);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  void insert(const Job& job);
  std::optional<Job> get(const std::string& id) const;
  ListResult list(const ListQuery& q) const;
  // The oldest queued job, now in_progress; nullopt when none is queued.
  std::optional<Job> claim_next();
  void set_progress(const std::string& id, int progress);
  void complete(const std::string& id, const std::string& files, int64_t now);
  void fail(const std::string& id, const std::string& code, const std::string& message, int64_t now);
  // Removes the row; returns false when there is none.
  bool remove(const std::string& id);
  std::map<std::string, int64_t> count_by_status() const;
  int64_t count_queued() const;
  int64_t count_owned(const std::string& owner) const;
  int requeued_at_open() const { return requeued_; }

  // API keys: hash (hex) -> owner.
  void add_key(const std::string& hash, const std::string& owner, const std::string& prefix, int64_t now);
  std::optional<std::string> owner_of_key(const std::string& hash) const;
  int64_t key_count() const;
  struct KeyRow { std::string owner, prefix; int64_t created_at = 0; };
  std::vector<KeyRow> keys() const;
  int remove_keys(const std::string& owner);

 private:
  void exec(const char* sql) const;
  sqlite3* db_ = nullptr;
  mutable std::mutex mu_;
  int requeued_ = 0;
};

int64_t unix_now();

}  // namespace kinema::serve
