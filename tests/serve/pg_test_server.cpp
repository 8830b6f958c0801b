#include "pg_test_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "kinema/error.hpp"

namespace kinema::serve::test {
namespace fs = std::filesystem;
namespace {

// The newest /usr/lib/postgresql/VERSION/bin with initdb and postgres ($KINEMA_PG_BIN overrides).
fs::path find_bin() {
  if (const char* e = std::getenv("KINEMA_PG_BIN")) return e;
  fs::path best;
  std::error_code ec;
  for (const auto& v : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = v.path() / "bin";
    if (fs::exists(bin / "initdb") && fs::exists(bin / "postgres") && (best.empty() || bin > best)) best = bin;
  }
  check(!best.empty(), "pg test server",
        "no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin; the fleet tests need "
        "Debian's postgresql package: run scripts/install-deps (or `apt-get install postgresql`), or point "
        "KINEMA_PG_BIN at a bin directory");
  return best;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET, a.sin_addr.s_addr = htonl(INADDR_LOOPBACK), a.sin_port = 0;
  socklen_t n = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) == 0;
  ::close(fd);
  check(ok, "pg test server", "cannot find a free loopback port");
  return ntohs(a.sin_port);
}

std::string tail_of(const fs::path& log) {
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  return text.size() > 1500 ? text.substr(text.size() - 1500) : text;
}

// Runs argv as uid/gid (when root) with stdout and stderr appended to log; returns the child.
// Everything the child needs is built before fork: after it, only async-signal-safe calls.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log, uid_t uid, gid_t gid) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string log_path = log.string();
  const bool root = ::geteuid() == 0;
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1), ::dup2(fd, 2);
    if (root && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) ::_exit(126);
    ::prctl(PR_SET_PDEATHSIG, SIGINT);  // fast shutdown with the test; after setuid, which clears it
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  check(pid > 0, "pg test server", "fork failed");
  return pid;
}

}  // namespace

PgTestServer& PgTestServer::get() {
  static PgTestServer server;
  return server;
}

PgTestServer::PgTestServer() : bin_(find_bin()) {
  dir_ = fs::temp_directory_path() / ("kinema_pg_" + std::to_string(::getpid()));
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw) pw = ::getpwnam("nobody");
    check(pw != nullptr, "pg test server", "running as root and there is neither a postgres nor a nobody user");
    uid_ = pw->pw_uid, gid_ = pw->pw_gid;
    check(::chown(dir_.c_str(), uid_, gid_) == 0, "pg test server", "cannot chown ", dir_.string());
  }
  init_cluster();
  start();
}

PgTestServer::~PgTestServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGINT);  // fast shutdown: end sessions, no checkpoint wait
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PgTestServer::init_cluster() const {
  const fs::path log = dir_ / "initdb.log";
  const pid_t pid = spawn({(bin_ / "initdb").string(), "-D", (dir_ / "db").string(), "-U", "kinema",
                           "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"},
                          log, uid_, gid_);
  int status = 0;
  ::waitpid(pid, &status, 0);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pg test server", "initdb failed (exit ",
        WIFEXITED(status) ? WEXITSTATUS(status) : -1, "): ", tail_of(log));
}

// Listens on loopback TCP only (no Unix socket: its default directory belongs to the system's
// own cluster). Tries again on another port if one was taken meanwhile.
void PgTestServer::start() {
  const fs::path log = dir_ / "postgres.log";
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    pid_ = spawn({(bin_ / "postgres").string(), "-D", (dir_ / "db").string(), "-p", std::to_string(port_), "-c",
                  "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off", "-c",
                  "synchronous_commit=off", "-c", "full_page_writes=off"},
                 log, uid_, gid_);
    const std::string probe = url("postgres");
    for (int i = 0; i < 300; ++i) {
      if (PQping(probe.c_str()) == PQPING_OK) return;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) break;  // it exited: port taken, or worse
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  fail("pg test server", "postgres did not start: ", tail_of(log));
}

std::string PgTestServer::url(const std::string& database) const {
  return "postgresql://kinema@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PgTestServer::fresh_database(const std::string& name) {
  const std::string db = name + "_" + std::to_string(++databases_);
  PGconn* c = PQconnectdb(url("postgres").c_str());
  PGresult* r = PQexec(c, ("CREATE DATABASE " + db).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string why = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  check(ok, "pg test server", "cannot create database ", db, ": ", why);
  return url(db);
}

}  // namespace kinema::serve::test
