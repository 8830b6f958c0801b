// The job store for one machine: SQLite (WAL journal) in DATA_DIR/jobs.sqlite3. Every method is
// one short transaction behind a mutex, so the HTTP threads and the workers share one connection.
// Leases use this machine's clock; a job that was in progress when the server died goes back to
// the queue when the store opens (Recovery::requeue_running).
#pragma once
#include <mutex>

#include "serve/job_store.hpp"

struct sqlite3;

namespace kinema::serve {

class SqliteJobStore final : public JobStore {
 public:
  // Creates the schema if needed (and adds the lease columns to a database made before them).
  explicit SqliteJobStore(const std::string& path, StoreOptions options = {});
  ~SqliteJobStore() override;
  SqliteJobStore(const SqliteJobStore&) = delete;
  SqliteJobStore& operator=(const SqliteJobStore&) = delete;

  void insert(const Job& job) override;
  std::optional<Job> get(const std::string& id) const override;
  ListResult list(const ListQuery& q) const override;
  std::optional<Job> claim_next(const std::string& worker) override;
  bool renew(const std::string& id, const std::string& lease, int progress) override;
  bool complete(const std::string& id, const std::string& lease, const std::string& files, int64_t now,
                int64_t expires_at = 0) override;
  bool fail(const std::string& id, const std::string& lease, const std::string& code, const std::string& message,
            int64_t now) override;
  bool remove(const std::string& id) override;
  std::vector<Job> due_to_expire(int64_t now, int limit) const override;
  bool mark_expired(const std::string& id) override;
  std::map<std::string, int64_t> count_by_status() const override;
  int64_t count_queued() const override;
  int64_t count_owned(const std::string& owner) const override;
  int requeued_at_open() const override { return requeued_; }

  void add_character(const Character& c) override;
  std::optional<Character> get_character(const std::string& id) const override;
  std::vector<Character> list_characters(const std::string& owner) const override;
  bool remove_character(const std::string& id) override;

  void add_key(const std::string& hash, const std::string& owner, const std::string& prefix, int64_t now) override;
  std::optional<std::string> owner_of_key(const std::string& hash) const override;
  int64_t key_count() const override;
  std::vector<KeyRow> keys() const override;
  int remove_keys(const std::string& owner) override;

 private:
  void exec(const char* sql) const;
  void add_lease_columns();
  void add_expired_column();
  sqlite3* db_ = nullptr;
  mutable std::mutex mu_;
  int requeued_ = 0;
};

}  // namespace kinema::serve
