// Picking the store from the queue URL, and what both stores share.
#include "serve/job_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "kinema/error.hpp"
#include "serve/job_store_pg.hpp"
#include "serve/job_store_sqlite.hpp"

namespace kinema::serve {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Takes kinema's own "lease=SECONDS" out of the URL's query (libpq refuses parameters it does not
// know) and returns the lease in milliseconds (30 s when absent).
int64_t take_lease(std::string& url) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return 30000;
  std::string rest, value;
  for (size_t at = q + 1; at <= url.size();) {
    size_t amp = url.find('&', at);
    if (amp == std::string::npos) amp = url.size();
    const std::string param = url.substr(at, amp - at);
    if (starts_with(param, "lease=")) value = param.substr(6);
    else if (!param.empty()) rest += (rest.empty() ? "" : "&") + param;
    at = amp + 1;
  }
  url = url.substr(0, q) + (rest.empty() ? "" : "?" + rest);
  if (value.empty()) return 30000;
  char* end = nullptr;
  const double seconds = std::strtod(value.c_str(), &end);
  check(*end == 0 && seconds >= 0.5 && seconds <= 3600, "serve queue",
        "lease must be a number of seconds in [0.5, 3600]; got lease=", value);
  return int64_t(seconds * 1000);
}

}  // namespace

std::unique_ptr<JobStore> open_job_store(const std::string& queue_url, const std::string& data_dir,
                                         Recovery recovery) {
  std::string url = queue_url;
  StoreOptions o;
  o.recovery = recovery;
  o.lease_ms = take_lease(url);
  if (url.empty() || starts_with(url, "sqlite:")) {
    const std::string path = url.empty() ? data_dir + "/jobs.sqlite3" : url.substr(7);
    check(!path.empty(), "serve queue", "give the database file: sqlite:PATH");
    if (url.empty()) std::filesystem::create_directories(data_dir);
    return std::make_unique<SqliteJobStore>(path, o);
  }
  if (starts_with(url, "postgresql://") || starts_with(url, "postgres://"))
    return std::make_unique<PgJobStore>(url, o);
  fail("serve queue", "unknown queue URL '", redact_url(queue_url),
       "'; expected postgresql://USER@HOST:PORT/DB or sqlite:PATH (or none: SQLite under --data)");
}

std::string queue_url_from_env() {
  const char* e = std::getenv("KINEMA_QUEUE");
  return e ? e : "";
}

std::string redact_url(const std::string& url) {
  std::string out = url;
  // A password in the query (libpq's password=...).
  if (const size_t p = out.find("password=", out.find('?') == std::string::npos ? out.size() : out.find('?'));
      p != std::string::npos)
    out = out.substr(0, p + 9) + "***" + out.substr(std::min(out.find('&', p), out.size()));
  // A password in the authority: scheme://USER:PASSWORD@HOST.
  const size_t scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  const size_t at = out.find('@', scheme + 3), slash = out.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return out;
  const size_t colon = out.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return out;
  return out.substr(0, colon + 1) + "***" + out.substr(at);
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace kinema::serve
