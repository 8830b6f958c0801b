// The message of the kinema::Error a call throws, for tests that check what an error says.
#pragma once
#include <functional>
#include <string>

#include "kinema/error.hpp"

namespace kinema::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace kinema::test
