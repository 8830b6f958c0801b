// A PostgreSQL connection through libpq, for the fleet's job store: text parameters in, text
// columns out, and every failure a kinema::Error that names the server (without its password) and
// carries libpq's own message. A connection that broke (the server restarted) is reset once
// before a statement gives up.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct pg_conn;
struct pg_result;

namespace kinema::serve {

class PgResult {
 public:
  explicit PgResult(pg_result* r) : r_(r) {}
  ~PgResult();
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  int rows() const;
  std::string text(int row, int col) const;
  int64_t integer(int row, int col) const;
  int64_t affected() const;  // rows an INSERT, UPDATE or DELETE changed
  pg_result* raw() const { return r_; }

 private:
  pg_result* r_;
};

class PgConn {
 public:
  explicit PgConn(const std::string& url);  // connects or throws
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;
  PgResult exec(const std::string& sql, const std::vector<std::string>& params = {});

 private:
  void reconnect_if_broken();
  pg_conn* conn_ = nullptr;
  std::string shown_;  // the URL without its password
};

}  // namespace kinema::serve
