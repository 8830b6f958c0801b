// The server's durable state: jobs and API key hashes. One interface, two stores: SQLite under the
// data directory for one machine (job_store_sqlite.hpp), PostgreSQL for a fleet of servers on one
// queue (job_store_pg.hpp); open_job_store() picks by the queue URL.
//
// A worker claims a job under a lease: a fresh token and a deadline that the worker renews while
// it renders. A job whose lease ran out (its worker died) can be claimed again, and every write a
// worker makes names its token, so a worker that lost its lease can no longer change the job:
// each job is completed exactly once.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  // Set by the store, ignored by insert():
  std::string worker;         // who claimed it last (and so, once completed, who completed it)
  std::string lease;          // the token of the current claim ("" = never claimed)
  int attempts = 0;           // claims so far: above 1, the job was taken over or requeued
  int completions = 0;        // times it was completed: 0 or 1, never more
  bool expired = false;       // its files were removed at expires_at (the row stays, as the API's does)
};

// A character (POST /v1/videos/characters): a reference image kept for later prompts.
struct Character {
  std::string id;     // "char_" + 32 random hex digits
  std::string owner;
  std::string name;
  int64_t created_at = 0;
  std::string file;   // the reference image under uploads/
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

// A single server requeues in_progress jobs when it opens its SQLite store (nothing else can be
// rendering them); `kinema keys` must not. PostgreSQL never requeues at open: other servers may be
// rendering, and expired leases hand jobs over instead.
enum class Recovery { requeue_running, none };

struct StoreOptions {
  Recovery recovery = Recovery::requeue_running;
  int64_t lease_ms = 30000;  // how long a claim lasts unless renewed
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  virtual void insert(const Job& job) = 0;
  virtual std::optional<Job> get(const std::string& id) const = 0;
  virtual ListResult list(const ListQuery& q) const = 0;
  // The oldest job that is queued or whose lease ran out, now in_progress under a fresh lease
  // (job.lease) held by `worker` for lease_ms; nullopt when there is none.
  virtual std::optional<Job> claim_next(const std::string& worker) = 0;
  // Extends the lease and, when progress >= 0, records it. False when the lease is lost: the job
  // was deleted, or another worker claimed it after the lease ran out.
  virtual bool renew(const std::string& id, const std::string& lease, int progress = -1) = 0;
  // Both are refused (false) unless `lease` still holds the job.
  // complete() records expires_at (unix seconds; 0 = kept until deleted).
  virtual bool complete(const std::string& id, const std::string& lease, const std::string& files, int64_t now,
                        int64_t expires_at = 0) = 0;
  virtual bool fail(const std::string& id, const std::string& lease, const std::string& code,
                    const std::string& message, int64_t now) = 0;
  // Removes the row; returns false when there is none.
  virtual bool remove(const std::string& id) = 0;
  // Completed jobs whose expires_at has passed and whose files are still stored, oldest first.
  virtual std::vector<Job> due_to_expire(int64_t now, int limit) const = 0;
  // Marks the job expired (its files are gone); false when it was already, or is no more.
  virtual bool mark_expired(const std::string& id) = 0;
  virtual std::map<std::string, int64_t> count_by_status() const = 0;
  virtual int64_t count_queued() const = 0;
  // The owner's jobs that still hold (or will hold) files: expired ones do not count.
  virtual int64_t count_owned(const std::string& owner) const = 0;
  virtual int requeued_at_open() const = 0;
  int64_t lease_ms() const { return options_.lease_ms; }
  // True when other servers change it too (their changes raise no event in this process).
  virtual bool shared() const { return false; }

  // Characters, by id; list_characters gives an owner's, oldest first.
  virtual void add_character(const Character& c) = 0;
  virtual std::optional<Character> get_character(const std::string& id) const = 0;
  virtual std::vector<Character> list_characters(const std::string& owner) const = 0;
  virtual bool remove_character(const std::string& id) = 0;

  // API keys: hash (hex) -> owner.
  virtual void add_key(const std::string& hash, const std::string& owner, const std::string& prefix, int64_t now) = 0;
  virtual std::optional<std::string> owner_of_key(const std::string& hash) const = 0;
  virtual int64_t key_count() const = 0;
  struct KeyRow { std::string owner, prefix; int64_t created_at = 0; };
  virtual std::vector<KeyRow> keys() const = 0;
  virtual int remove_keys(const std::string& owner) = 0;

 protected:
  explicit JobStore(StoreOptions options) : options_(options) {}
  StoreOptions options_;
};

// The store a queue URL names: "" (SQLite in DATA_DIR/jobs.sqlite3), "sqlite:PATH", or
// "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?libpq parameters]" (also "postgres://"). A
// "lease=SECONDS" parameter (default 30) sets how long a claim lasts; the rest goes to libpq.
std::unique_ptr<JobStore> open_job_store(const std::string& queue_url, const std::string& data_dir,
                                         Recovery recovery = Recovery::requeue_running);

// The default of `kinema serve --queue` and `kinema keys --queue`: $KINEMA_QUEUE, or "" (SQLite
// under the data directory).
std::string queue_url_from_env();

// The URL with its password (if any) replaced by "***", for messages and logs.
std::string redact_url(const std::string& url);

int64_t unix_now();

}  // namespace kinema::serve
