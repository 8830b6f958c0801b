#include "serve/job_store_pg.hpp"

#include "kinema/error.hpp"
#include "serve/random_id.hpp"

namespace kinema::serve {
namespace {

constexpr const char* kColumns =
    "id, owner, status, progress, created_at, completed_at, expires_at, model, prompt, seconds, size, "
    "remixed_from, error_code, error_message, params, files, worker, lease, attempts, completions, expired";

Job read_job(const PgResult& r, int row) {
  Job j;
  j.id = r.text(row, 0), j.owner = r.text(row, 1), j.status = r.text(row, 2), j.progress = int(r.integer(row, 3));
  j.created_at = r.integer(row, 4), j.completed_at = r.integer(row, 5), j.expires_at = r.integer(row, 6);
  j.model = r.text(row, 7), j.prompt = r.text(row, 8), j.seconds = r.text(row, 9), j.size = r.text(row, 10);
  j.remixed_from = r.text(row, 11), j.error_code = r.text(row, 12), j.error_message = r.text(row, 13);
  j.params = r.text(row, 14), j.files = r.text(row, 15), j.worker = r.text(row, 16), j.lease = r.text(row, 17);
  j.attempts = int(r.integer(row, 18)), j.completions = int(r.integer(row, 19));
  j.expired = r.integer(row, 20) != 0;
  return j;
}

std::string str(int64_t v) { return std::to_string(v); }

// "lease_until = now() + $n milliseconds", on the database's clock.
std::string lease_until(int n) { return "lease_until=now() + $" + std::to_string(n) + "::bigint * interval '1 millisecond'"; }

}  // namespace

PgJobStore::PgJobStore(const std::string& url, StoreOptions options) : JobStore(options), conn_(url) {
  create_schema();
}

PgResult PgJobStore::exec(const std::string& sql, const std::vector<std::string>& params) const {
  std::lock_guard lock(mu_);
  return conn_.exec(sql, params);
}

// Servers of a fleet start together: an advisory lock keeps their CREATE ... IF NOT EXISTS from
// racing (two of them can otherwise both try to create the same type and one fails).
void PgJobStore::create_schema() {
  exec("BEGIN");
  try {
    exec("SET LOCAL client_min_messages = warning");  // not a NOTICE per table that exists
    exec("SELECT pg_advisory_xact_lock(4207771)");  // an arbitrary key, kinema's own
    exec("CREATE TABLE IF NOT EXISTS kinema_jobs (seq BIGSERIAL PRIMARY KEY, id TEXT UNIQUE NOT NULL, "
         "owner TEXT NOT NULL, status TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0, created_at BIGINT NOT NULL, "
         "completed_at BIGINT NOT NULL DEFAULT 0, expires_at BIGINT NOT NULL DEFAULT 0, model TEXT, prompt TEXT, "
         "seconds TEXT, size TEXT, remixed_from TEXT, error_code TEXT, error_message TEXT, params TEXT, files TEXT, "
         "worker TEXT NOT NULL DEFAULT '', lease TEXT NOT NULL DEFAULT '', "
         "lease_until TIMESTAMPTZ NOT NULL DEFAULT 'epoch', attempts INTEGER NOT NULL DEFAULT 0, "
         "completions INTEGER NOT NULL DEFAULT 0)");
    // Tables made before expiry get the column (nothing expired yet).
    exec("ALTER TABLE kinema_jobs ADD COLUMN IF NOT EXISTS expired INTEGER NOT NULL DEFAULT 0");
    exec("CREATE INDEX IF NOT EXISTS kinema_jobs_status ON kinema_jobs(status, seq)");
    exec("CREATE INDEX IF NOT EXISTS kinema_jobs_owner ON kinema_jobs(owner, seq)");
    exec("CREATE TABLE IF NOT EXISTS kinema_characters (seq BIGSERIAL PRIMARY KEY, id TEXT UNIQUE NOT NULL, "
         "owner TEXT NOT NULL, name TEXT NOT NULL, created_at BIGINT NOT NULL, file TEXT NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS kinema_api_keys (hash TEXT PRIMARY KEY, owner TEXT NOT NULL, "
         "prefix TEXT NOT NULL, created_at BIGINT NOT NULL)");
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

void PgJobStore::insert(const Job& j) {
  exec("INSERT INTO kinema_jobs (id, owner, status, progress, created_at, completed_at, expires_at, model, prompt, "
       "seconds, size, remixed_from, error_code, error_message, params, files) "
       "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
       {j.id, j.owner, j.status, str(j.progress), str(j.created_at), str(j.completed_at), str(j.expires_at), j.model,
        j.prompt, j.seconds, j.size, j.remixed_from, j.error_code, j.error_message, j.params, j.files});
}

std::optional<Job> PgJobStore::get(const std::string& id) const {
  const PgResult r = exec(std::string("SELECT ") + kColumns + " FROM kinema_jobs WHERE id=$1", {id});
  if (r.rows() == 0) return std::nullopt;
  return read_job(r, 0);
}

ListResult PgJobStore::list(const ListQuery& q) const {
  int64_t cursor = q.ascending ? 0 : INT64_MAX;
  if (!q.after.empty()) {
    const PgResult c = exec("SELECT seq FROM kinema_jobs WHERE id=$1 AND owner=$2", {q.after, q.owner});
    check(c.rows() == 1, "list", "no video '", q.after, "' to list after");
    cursor = c.integer(0, 0);
  }
  const std::string sql = std::string("SELECT ") + kColumns + " FROM kinema_jobs WHERE owner=$1 AND seq " +
                          (q.ascending ? ">" : "<") + " $2::bigint ORDER BY seq " + (q.ascending ? "ASC" : "DESC") +
                          " LIMIT $3::bigint";
  const PgResult r = exec(sql, {q.owner, str(cursor), str(int64_t(q.limit) + 1)});
  ListResult out;
  for (int i = 0; i < r.rows(); ++i) out.jobs.push_back(read_job(r, i));
  if (int(out.jobs.size()) > q.limit) {
    out.jobs.pop_back();
    out.has_more = true;
  }
  return out;
}

// One statement: the sub-select locks the oldest claimable row, skipping rows another worker is
// claiming at this moment, and the update takes it under a fresh lease.
std::optional<Job> PgJobStore::claim_next(const std::string& worker) {
  const PgResult r = exec(
      "UPDATE kinema_jobs SET status='in_progress', progress=0, worker=$1, lease=$2, " + lease_until(3) +
          ", attempts=attempts+1 WHERE seq = (SELECT seq FROM kinema_jobs WHERE status='queued' OR "
          "(status='in_progress' AND lease_until < now()) ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) "
          "RETURNING " + kColumns,
      {worker, random_hex(16), str(lease_ms())});
  if (r.rows() == 0) return std::nullopt;
  return read_job(r, 0);
}

bool PgJobStore::renew(const std::string& id, const std::string& lease, int progress) {
  return exec("UPDATE kinema_jobs SET progress=CASE WHEN $3::int >= 0 THEN $3::int ELSE progress END, " +
                  lease_until(4) + " WHERE id=$1 AND lease=$2 AND status='in_progress'",
              {id, lease, str(progress), str(lease_ms())})
             .affected() > 0;
}

bool PgJobStore::complete(const std::string& id, const std::string& lease, const std::string& files, int64_t now,
                          int64_t expires_at) {
  return exec("UPDATE kinema_jobs SET status='completed', progress=100, completed_at=$3, files=$4, expires_at=$5, "
              "lease_until='epoch', completions=completions+1 WHERE id=$1 AND lease=$2 AND status='in_progress'",
              {id, lease, str(now), files, str(expires_at)})
             .affected() > 0;
}

bool PgJobStore::fail(const std::string& id, const std::string& lease, const std::string& code,
                      const std::string& message, int64_t now) {
  return exec("UPDATE kinema_jobs SET status='failed', completed_at=$3, error_code=$4, error_message=$5, "
              "lease_until='epoch' WHERE id=$1 AND lease=$2 AND status='in_progress'",
              {id, lease, str(now), code, message})
             .affected() > 0;
}

bool PgJobStore::remove(const std::string& id) {
  return exec("DELETE FROM kinema_jobs WHERE id=$1", {id}).affected() > 0;
}

std::vector<Job> PgJobStore::due_to_expire(int64_t now, int limit) const {
  const PgResult r = exec(std::string("SELECT ") + kColumns +
                              " FROM kinema_jobs WHERE status='completed' AND expired=0 AND expires_at>0 AND "
                              "expires_at<=$1::bigint ORDER BY expires_at LIMIT $2::bigint",
                          {str(now), str(int64_t(limit))});
  std::vector<Job> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_job(r, i));
  return out;
}

bool PgJobStore::mark_expired(const std::string& id) {
  return exec("UPDATE kinema_jobs SET expired=1 WHERE id=$1 AND expired=0", {id}).affected() > 0;
}

std::map<std::string, int64_t> PgJobStore::count_by_status() const {
  std::map<std::string, int64_t> m{{"queued", 0}, {"in_progress", 0}, {"completed", 0}, {"failed", 0}};
  const PgResult r = exec("SELECT status, COUNT(*) FROM kinema_jobs GROUP BY status");
  for (int i = 0; i < r.rows(); ++i) m[r.text(i, 0)] = r.integer(i, 1);
  return m;
}

int64_t PgJobStore::count_queued() const {
  return exec("SELECT COUNT(*) FROM kinema_jobs WHERE status='queued'").integer(0, 0);
}

int64_t PgJobStore::count_owned(const std::string& owner) const {
  return exec("SELECT COUNT(*) FROM kinema_jobs WHERE owner=$1 AND expired=0", {owner}).integer(0, 0);
}

void PgJobStore::add_character(const Character& c) {
  exec("INSERT INTO kinema_characters (id, owner, name, created_at, file) VALUES ($1,$2,$3,$4,$5)",
       {c.id, c.owner, c.name, str(c.created_at), c.file});
}

std::optional<Character> PgJobStore::get_character(const std::string& id) const {
  const PgResult r = exec("SELECT id, owner, name, created_at, file FROM kinema_characters WHERE id=$1", {id});
  if (r.rows() == 0) return std::nullopt;
  return Character{r.text(0, 0), r.text(0, 1), r.text(0, 2), r.integer(0, 3), r.text(0, 4)};
}

std::vector<Character> PgJobStore::list_characters(const std::string& owner) const {
  const PgResult r =
      exec("SELECT id, owner, name, created_at, file FROM kinema_characters WHERE owner=$1 ORDER BY seq", {owner});
  std::vector<Character> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.integer(i, 3), r.text(i, 4)});
  return out;
}

bool PgJobStore::remove_character(const std::string& id) {
  return exec("DELETE FROM kinema_characters WHERE id=$1", {id}).affected() > 0;
}

void PgJobStore::add_key(const std::string& hash, const std::string& owner, const std::string& prefix, int64_t now) {
  exec("INSERT INTO kinema_api_keys (hash, owner, prefix, created_at) VALUES ($1,$2,$3,$4)",
       {hash, owner, prefix, str(now)});
}

std::optional<std::string> PgJobStore::owner_of_key(const std::string& hash) const {
  const PgResult r = exec("SELECT owner FROM kinema_api_keys WHERE hash=$1", {hash});
  if (r.rows() == 0) return std::nullopt;
  return r.text(0, 0);
}

int64_t PgJobStore::key_count() const { return exec("SELECT COUNT(*) FROM kinema_api_keys").integer(0, 0); }

std::vector<JobStore::KeyRow> PgJobStore::keys() const {
  const PgResult r = exec("SELECT owner, prefix, created_at FROM kinema_api_keys ORDER BY created_at, owner");
  std::vector<KeyRow> rows;
  for (int i = 0; i < r.rows(); ++i) rows.push_back({r.text(i, 0), r.text(i, 1), r.integer(i, 2)});
  return rows;
}

int PgJobStore::remove_keys(const std::string& owner) {
  return int(exec("DELETE FROM kinema_api_keys WHERE owner=$1", {owner}).affected());
}

}  // namespace kinema::serve
