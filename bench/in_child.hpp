// Runs a measurement in a forked child and returns its result (a trivially copyable struct)
// through a pipe: each measurement then has its own peak RSS (getrusage's ru_maxrss) and page
// state. A child that dies (killed for memory, say) gives a default Result.
#pragma once
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <type_traits>

namespace kinema::bench {

// This process's peak resident memory in GiB (ru_maxrss is in KiB on Linux).
inline double peak_rss_gib() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / (1024.0 * 1024.0);
}

template <typename Result, typename F>
Result in_child(F work) {
  static_assert(std::is_trivially_copyable_v<Result>, "the result crosses a pipe as bytes");
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const Result r = work();
    const bool sent = ::write(fds[1], &r, sizeof r) == ssize_t(sizeof r);
    ::_exit(sent ? 0 : 1);
  }
  ::close(fds[1]);
  Result r;
  if (::read(fds[0], &r, sizeof r) != ssize_t(sizeof r)) r = {};
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) std::fprintf(stderr, "a measurement's process was killed (signal %d)\n", WTERMSIG(status));
  return r;
}

}  // namespace kinema::bench
