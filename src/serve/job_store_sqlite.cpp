#include "serve/job_store_sqlite.hpp"

#include <sqlite3.h>

#include <chrono>

#include "serve/random_id.hpp"

#include "kinema/error.hpp"

namespace kinema::serve {
namespace {

// A prepared statement that finalizes itself; bind() takes 1-based positions in order.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    check(sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) == SQLITE_OK, "serve store", "cannot prepare '", sql,
          "': ", sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& bind(const std::string& v) {
    sqlite3_bind_text(s_, ++n_, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int64_t v) {
    sqlite3_bind_int64(s_, ++n_, v);
    return *this;
  }
  bool step() {  // true while a row is ready
    const int rc = sqlite3_step(s_);
    check(rc == SQLITE_ROW || rc == SQLITE_DONE, "serve store", "database error: ", sqlite3_errmsg(db_));
    return rc == SQLITE_ROW;
  }
  std::string text(int col) const {
    const auto* t = sqlite3_column_text(s_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), size_t(sqlite3_column_bytes(s_, col))) : "";
  }
  int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int n_ = 0;
};

constexpr const char* kColumns =
    "id, owner, status, progress, created_at, completed_at, expires_at, model, prompt, seconds, size, "
    "remixed_from, error_code, error_message, params, files, worker, lease, attempts, completions, expired";

Job read_job(const Stmt& s) {
  Job j;
  j.id = s.text(0), j.owner = s.text(1), j.status = s.text(2), j.progress = int(s.integer(3));
  j.created_at = s.integer(4), j.completed_at = s.integer(5), j.expires_at = s.integer(6);
  j.model = s.text(7), j.prompt = s.text(8), j.seconds = s.text(9), j.size = s.text(10);
  j.remixed_from = s.text(11), j.error_code = s.text(12), j.error_message = s.text(13);
  j.params = s.text(14), j.files = s.text(15);
  j.worker = s.text(16), j.lease = s.text(17), j.attempts = int(s.integer(18)), j.completions = int(s.integer(19));
  j.expired = s.integer(20) != 0;
  return j;
}

// Leases run on this machine's clock, in milliseconds.
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SqliteJobStore::SqliteJobStore(const std::string& path, StoreOptions options) : JobStore(options) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    kinema::fail("serve store", "cannot open the job database ", path, ": ", why);
  }
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  // seq orders jobs by arrival (created_at has one-second resolution).
  exec("CREATE TABLE IF NOT EXISTS jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
       "owner TEXT NOT NULL, status TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, "
       "completed_at INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL DEFAULT 0, model TEXT, prompt TEXT, "
       "seconds TEXT, size TEXT, remixed_from TEXT, error_code TEXT, error_message TEXT, params TEXT, files TEXT)");
  exec("CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, seq)");
  exec("CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, seq)");
  exec("CREATE TABLE IF NOT EXISTS api_keys (hash TEXT PRIMARY KEY, owner TEXT NOT NULL, prefix TEXT NOT NULL, "
       "created_at INTEGER NOT NULL)");
  exec("CREATE TABLE IF NOT EXISTS characters (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
       "owner TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL, file TEXT NOT NULL)");
  add_lease_columns();
  add_expired_column();
  // A render that was running when the server died starts again from the queue.
  if (options_.recovery == Recovery::none) return;
  Stmt s(db_, "UPDATE jobs SET status='queued', progress=0, lease_until=0 WHERE status='in_progress'");
  s.step();
  requeued_ = sqlite3_changes(db_);
}

SqliteJobStore::~SqliteJobStore() { sqlite3_close(db_); }

// Databases made before leases existed get the columns (with defaults: never claimed).
void SqliteJobStore::add_lease_columns() {
  Stmt info(db_, "SELECT COUNT(*) FROM pragma_table_info('jobs') WHERE name='lease'");
  info.step();
  if (info.integer(0) > 0) return;
  exec("ALTER TABLE jobs ADD COLUMN worker TEXT NOT NULL DEFAULT ''");
  exec("ALTER TABLE jobs ADD COLUMN lease TEXT NOT NULL DEFAULT ''");
  exec("ALTER TABLE jobs ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0");  // unix ms
  exec("ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0");
  exec("ALTER TABLE jobs ADD COLUMN completions INTEGER NOT NULL DEFAULT 0");
}

// Databases made before expiry get the column (nothing expired yet).
void SqliteJobStore::add_expired_column() {
  Stmt info(db_, "SELECT COUNT(*) FROM pragma_table_info('jobs') WHERE name='expired'");
  info.step();
  if (info.integer(0) == 0) exec("ALTER TABLE jobs ADD COLUMN expired INTEGER NOT NULL DEFAULT 0");
}

void SqliteJobStore::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) return;
  const std::string why = err ? err : "unknown";
  sqlite3_free(err);
  kinema::fail("serve store", "'", sql, "' failed: ", why);
}

void SqliteJobStore::insert(const Job& j) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "INSERT INTO jobs (id, owner, status, progress, created_at, completed_at, expires_at, model, prompt, "
              "seconds, size, remixed_from, error_code, error_message, params, files) "
              "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(j.id).bind(j.owner).bind(j.status).bind(int64_t(j.progress)).bind(j.created_at).bind(j.completed_at);
  s.bind(j.expires_at).bind(j.model).bind(j.prompt).bind(j.seconds).bind(j.size).bind(j.remixed_from);
  s.bind(j.error_code).bind(j.error_message).bind(j.params).bind(j.files);
  s.step();
}

std::optional<Job> SqliteJobStore::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kColumns + " FROM jobs WHERE id=?").c_str());
  s.bind(id);
  if (!s.step()) return std::nullopt;
  return read_job(s);
}

ListResult SqliteJobStore::list(const ListQuery& q) const {
  std::lock_guard lock(mu_);
  int64_t cursor = q.ascending ? 0 : INT64_MAX;
  if (!q.after.empty()) {
    Stmt c(db_, "SELECT seq FROM jobs WHERE id=? AND owner=?");
    c.bind(q.after).bind(q.owner);
    check(c.step(), "list", "no video '", q.after, "' to list after");
    cursor = c.integer(0);
  }
  const std::string sql = std::string("SELECT ") + kColumns + " FROM jobs WHERE owner=? AND seq " +
                          (q.ascending ? ">" : "<") + " ? ORDER BY seq " + (q.ascending ? "ASC" : "DESC") +
                          " LIMIT ?";
  Stmt s(db_, sql.c_str());
  s.bind(q.owner).bind(cursor).bind(int64_t(q.limit) + 1);
  ListResult r;
  while (s.step()) r.jobs.push_back(read_job(s));
  if (int(r.jobs.size()) > q.limit) {
    r.jobs.pop_back();
    r.has_more = true;
  }
  return r;
}

std::optional<Job> SqliteJobStore::claim_next(const std::string& worker) {
  std::lock_guard lock(mu_);
  exec("BEGIN IMMEDIATE");
  try {
    Stmt s(db_, (std::string("SELECT ") + kColumns +
                 " FROM jobs WHERE status='queued' OR (status='in_progress' AND lease_until<?) ORDER BY seq LIMIT 1")
                    .c_str());
    const int64_t now = now_ms();
    s.bind(now);
    std::optional<Job> j;
    if (s.step()) {
      j = read_job(s);
      j->status = "in_progress", j->progress = 0, j->worker = worker, j->lease = random_hex(16), ++j->attempts;
      Stmt u(db_, "UPDATE jobs SET status='in_progress', progress=0, worker=?, lease=?, lease_until=?, "
                  "attempts=attempts+1 WHERE id=?");
      u.bind(worker).bind(j->lease).bind(now + options_.lease_ms).bind(j->id).step();
    }
    exec("COMMIT");
    return j;
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
}

bool SqliteJobStore::renew(const std::string& id, const std::string& lease, int progress) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE jobs SET progress=CASE WHEN ?>=0 THEN ? ELSE progress END, lease_until=? "
              "WHERE id=? AND lease=? AND status='in_progress'");
  s.bind(int64_t(progress)).bind(int64_t(progress)).bind(now_ms() + options_.lease_ms).bind(id).bind(lease).step();
  return sqlite3_changes(db_) > 0;
}

bool SqliteJobStore::complete(const std::string& id, const std::string& lease, const std::string& files, int64_t now,
                              int64_t expires_at) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE jobs SET status='completed', progress=100, completed_at=?, expires_at=?, files=?, lease_until=0, "
              "completions=completions+1 WHERE id=? AND lease=? AND status='in_progress'");
  s.bind(now).bind(expires_at).bind(files).bind(id).bind(lease).step();
  return sqlite3_changes(db_) > 0;
}

bool SqliteJobStore::fail(const std::string& id, const std::string& lease, const std::string& code,
                          const std::string& message, int64_t now) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE jobs SET status='failed', completed_at=?, error_code=?, error_message=?, lease_until=0 "
              "WHERE id=? AND lease=? AND status='in_progress'");
  s.bind(now).bind(code).bind(message).bind(id).bind(lease).step();
  return sqlite3_changes(db_) > 0;
}

bool SqliteJobStore::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM jobs WHERE id=?");
  s.bind(id).step();
  return sqlite3_changes(db_) > 0;
}

std::vector<Job> SqliteJobStore::due_to_expire(int64_t now, int limit) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kColumns +
               " FROM jobs WHERE status='completed' AND expired=0 AND expires_at>0 AND expires_at<=? "
               "ORDER BY expires_at LIMIT ?").c_str());
  s.bind(now).bind(int64_t(limit));
  std::vector<Job> out;
  while (s.step()) out.push_back(read_job(s));
  return out;
}

bool SqliteJobStore::mark_expired(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE jobs SET expired=1 WHERE id=? AND expired=0");
  s.bind(id).step();
  return sqlite3_changes(db_) > 0;
}

std::map<std::string, int64_t> SqliteJobStore::count_by_status() const {
  std::lock_guard lock(mu_);
  std::map<std::string, int64_t> m{{"queued", 0}, {"in_progress", 0}, {"completed", 0}, {"failed", 0}};
  Stmt s(db_, "SELECT status, COUNT(*) FROM jobs GROUP BY status");
  while (s.step()) m[s.text(0)] = s.integer(1);
  return m;
}

int64_t SqliteJobStore::count_queued() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM jobs WHERE status='queued'");
  s.step();
  return s.integer(0);
}

int64_t SqliteJobStore::count_owned(const std::string& owner) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM jobs WHERE owner=? AND expired=0");
  s.bind(owner).step();
  return s.integer(0);
}

void SqliteJobStore::add_character(const Character& c) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "INSERT INTO characters (id, owner, name, created_at, file) VALUES (?,?,?,?,?)");
  s.bind(c.id).bind(c.owner).bind(c.name).bind(c.created_at).bind(c.file).step();
}

std::optional<Character> SqliteJobStore::get_character(const std::string& id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT id, owner, name, created_at, file FROM characters WHERE id=?");
  s.bind(id);
  if (!s.step()) return std::nullopt;
  return Character{s.text(0), s.text(1), s.text(2), s.integer(3), s.text(4)};
}

std::vector<Character> SqliteJobStore::list_characters(const std::string& owner) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT id, owner, name, created_at, file FROM characters WHERE owner=? ORDER BY seq");
  s.bind(owner);
  std::vector<Character> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2), s.integer(3), s.text(4)});
  return out;
}

bool SqliteJobStore::remove_character(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM characters WHERE id=?");
  s.bind(id).step();
  return sqlite3_changes(db_) > 0;
}

void SqliteJobStore::add_key(const std::string& hash, const std::string& owner, const std::string& prefix, int64_t now) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "INSERT INTO api_keys (hash, owner, prefix, created_at) VALUES (?,?,?,?)");
  s.bind(hash).bind(owner).bind(prefix).bind(now).step();
}

std::optional<std::string> SqliteJobStore::owner_of_key(const std::string& hash) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT owner FROM api_keys WHERE hash=?");
  s.bind(hash);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

int64_t SqliteJobStore::key_count() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM api_keys");
  s.step();
  return s.integer(0);
}

std::vector<JobStore::KeyRow> SqliteJobStore::keys() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT owner, prefix, created_at FROM api_keys ORDER BY created_at, owner");
  std::vector<KeyRow> rows;
  while (s.step()) rows.push_back({s.text(0), s.text(1), s.integer(2)});
  return rows;
}

int SqliteJobStore::remove_keys(const std::string& owner) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM api_keys WHERE owner=?");
  s.bind(owner).step();
  return sqlite3_changes(db_);
}

}  // namespace kinema::serve
