// An error the API answers with: an HTTP status and OpenAI's error object,
// {"error": {"message", "type", "param", "code"}}. Handlers throw it; the server's guard turns it
// (and any kinema::Error, as a 400 or a 500) into the response.
#pragma once
#include <stdexcept>
#include <string>

namespace kinema::serve {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string type, std::string code, std::string param, const std::string& message)
      : std::runtime_error(message), status(status), type(std::move(type)), code(std::move(code)),
        param(std::move(param)) {}
  int status;
  std::string type, code, param;  // param and code "" = null
  int retry_after = 0;            // seconds, for 429 and 503 (0 = no header)
};

inline ApiError bad_request(const std::string& param, const std::string& message) {
  return ApiError(400, "invalid_request_error", param.empty() ? "" : "invalid_value", param, message);
}
inline ApiError not_found(const std::string& what) {
  return ApiError(404, "invalid_request_error", "not_found", "", what);
}

std::string error_json(const ApiError& e);

}  // namespace kinema::serve
