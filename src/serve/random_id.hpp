// Unpredictable identifiers from libsodium's CSPRNG: job ids, stored file names and API keys are
// never derived from anything a client sent.
#pragma once
#include <cstddef>
#include <string>

namespace kinema::serve {

std::string random_hex(size_t bytes);        // 2 * bytes lower-case hex digits
std::string random_base64url(size_t bytes);  // URL-safe base64 without padding

}  // namespace kinema::serve
