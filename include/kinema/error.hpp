// kinema::Error: the one exception type of the library.
// Library code never exits or aborts; it throws Error with a message a user can act on,
// formatted "[where] what is wrong; got X, expected Y". The CLI and server map it to
// exit codes and HTTP statuses.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace kinema {

// refused: the request was understood and declined by the safety policy (a prompt or a frame):
// the CLI exits 5 and the server answers with a policy error, instead of a failure.
enum class ErrorKind { failure, refused };

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ErrorKind kind = ErrorKind::failure)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

// Throws Error("[where] " + parts...) unless cond holds.
template <typename... Args>
inline void check(bool cond, const char* where, Args&&... parts) {
  if (!cond) throw Error(detail::concat("[", where, "] ", std::forward<Args>(parts)...));
}

// Like check(), but the message parts are evaluated only when the check fails: use it on
// hot paths, where building "[2, 77, 4096]" for every passing check would cost real time.
#define KINEMA_CHECK(cond, ...)                   \
  do {                                            \
    if (!(cond)) ::kinema::fail(__VA_ARGS__);     \
  } while (0)

template <typename... Args>
[[noreturn]] inline void fail(const char* where, Args&&... parts) {
  throw Error(detail::concat("[", where, "] ", std::forward<Args>(parts)...));
}

// Throws a refusal Error("[where] " + parts...): a safety decision, not a failure.
template <typename... Args>
[[noreturn]] inline void refuse(const char* where, Args&&... parts) {
  throw Error(detail::concat("[", where, "] ", std::forward<Args>(parts)...), ErrorKind::refused);
}

}  // namespace kinema
