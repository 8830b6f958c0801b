// The job store of a fleet: PostgreSQL, shared by `kinema serve` processes on any number of hosts
// (tables kinema_jobs and kinema_api_keys, made on first use). A worker claims the oldest job that
// is queued or whose lease ran out with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent claims
// never wait on each other nor take the same job. Leases run on the database's clock (now()), so
// the hosts' clocks need not agree. Nothing is requeued at open: expired leases do that.
#pragma once
#include <mutex>

#include "serve/job_store.hpp"
#include "serve/pg_conn.hpp"

namespace kinema::serve {

class PgJobStore final : public JobStore {
 public:
  // Connects (throws naming the server and libpq's reason) and creates the tables if needed.
  PgJobStore(const std::string& url, StoreOptions options = {});

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
  int requeued_at_open() const override { return 0; }
  bool shared() const override { return true; }

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
  void create_schema();
  PgResult exec(const std::string& sql, const std::vector<std::string>& params = {}) const;
  mutable PgConn conn_;     // one connection, one statement at a time
  mutable std::mutex mu_;
};

}  // namespace kinema::serve
