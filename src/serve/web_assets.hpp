// The web page's files (web/), compiled into the binary by embed_web.cmake.
#pragma once
#include <cstddef>
#include <string_view>

namespace kinema::serve {

struct WebAsset {
  const char* path;  // "/index.html"
  const unsigned char* data;
  size_t size;
  const char* content_type;
};

const WebAsset* find_web_asset(std::string_view path);  // nullptr when there is none

}  // namespace kinema::serve
