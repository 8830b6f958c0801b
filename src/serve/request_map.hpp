// How a Videos API request maps onto what the loaded model can make. The API asks for sizes such
// as 1280x720 and 4, 8 or 12 seconds; kinema's model was trained at a few small sizes and makes
// clips of 1 + 4k frames. The response says what was used (docs/serve.md).
#pragma once
#include <string>
#include <utility>

#include "kinema/serve.hpp"

namespace kinema::serve {

// "WxH" -> the model's trained size with the nearest aspect ratio (ties: the larger one).
// Throws ApiError 400 (param "size") when the text is not WxH with positive numbers.
std::pair<int, int> map_size(const ModelInfo& model, const std::string& requested);
// Seconds (the API's string or a number's text) -> frames, 1 + 4k at the model's fps, at least 5
// and at most model.max_frames. Throws ApiError 400 (param "seconds") when not a positive number.
int map_frames(const ModelInfo& model, const std::string& seconds);
// The duration that `frames` frames at `fps` play for, as the API's seconds string ("4.08").
std::string seconds_string(int frames, int fps);

}  // namespace kinema::serve
