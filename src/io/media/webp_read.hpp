#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "kinema/media.hpp"

namespace kinema::media {
bool is_webp(const std::vector<uint8_t>& head);  // "RIFF" .... "WEBP"
Frame decode_webp(const std::vector<uint8_t>& data, const std::string& path, int64_t max_pixels);
}  // namespace kinema::media
