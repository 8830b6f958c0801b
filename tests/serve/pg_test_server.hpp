// A throwaway PostgreSQL server for the fleet tests: Debian's server binaries (the `postgresql`
// package; scripts/install-deps), a fresh cluster under the temp directory, trust authentication,
// loopback only, on a free port, no fsync. Started on first use, stopped when the test process
// exits (or dies: the server gets SIGINT, a fast shutdown, with its parent). postgres refuses to run as root, so
// under root it runs as the `postgres` user (made by the package), or `nobody` without one.
// Missing binaries are an error that says how to install them, never a silent skip.
#pragma once
#include <filesystem>
#include <string>
#include <sys/types.h>

namespace kinema::serve::test {

class PgTestServer {
 public:
  static PgTestServer& get();
  ~PgTestServer();
  // A new empty database; its URL (postgresql://kinema@127.0.0.1:PORT/NAME_N).
  std::string fresh_database(const std::string& name);
  std::string url(const std::string& database) const;

 private:
  PgTestServer();
  void init_cluster() const;
  void start();
  std::filesystem::path dir_, bin_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
  int databases_ = 0;
};

}  // namespace kinema::serve::test
