#include "serve/pg_conn.hpp"

#include <libpq-fe.h>

#include <cstdlib>

#include "kinema/error.hpp"
#include "serve/job_store.hpp"

namespace kinema::serve {
namespace {

std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

PgResult::~PgResult() { PQclear(r_); }
int PgResult::rows() const { return PQntuples(r_); }
std::string PgResult::text(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), size_t(PQgetlength(r_, row, col)));
}
int64_t PgResult::integer(int row, int col) const { return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10); }
int64_t PgResult::affected() const { return std::strtoll(PQcmdTuples(r_), nullptr, 10); }

PgConn::PgConn(const std::string& url) : shown_(redact_url(url)) {
  // Defaults first, then the URL: what the URL says wins (libpq's rule for expand_dbname).
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "kinema serve", url.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (PQstatus(conn_) == CONNECTION_OK) return;
  const std::string why = conn_ ? trimmed(PQerrorMessage(conn_)) : "out of memory";
  PQfinish(conn_);
  fail("serve queue", "cannot connect to PostgreSQL at ", shown_, ": ", why);
}

PgConn::~PgConn() { PQfinish(conn_); }

void PgConn::reconnect_if_broken() {
  if (PQstatus(conn_) == CONNECTION_OK) return;
  PQreset(conn_);
  check(PQstatus(conn_) == CONNECTION_OK, "serve queue", "lost the connection to PostgreSQL at ", shown_,
        " and cannot reconnect: ", trimmed(PQerrorMessage(conn_)));
}

PgResult PgConn::exec(const std::string& sql, const std::vector<std::string>& params) {
  reconnect_if_broken();
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PgResult r(PQexecParams(conn_, sql.c_str(), int(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
  const ExecStatusType status = PQresultStatus(r.raw());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
  fail("serve queue", "PostgreSQL at ", shown_, " refused '", sql.substr(0, 80), sql.size() > 80 ? "...'" : "'",
       ": ", trimmed(PQerrorMessage(conn_)));
}

}  // namespace kinema::serve
