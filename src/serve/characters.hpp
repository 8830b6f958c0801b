// Characters (POST/GET/DELETE /v1/videos/characters): OpenAI's API makes a character from an
// uploaded clip and reuses it in later videos. kinema has no character model, so a character is
// a stored reference image (the clip's first frame, or an uploaded image) that a later create
// uses as its first frame, the image-to-video path input_reference takes. A create names one by
// id (`characters: ["char_..."]`, as OpenAI's API) or by mentioning @NAME in its prompt.
#pragma once
#include <httplib.h>

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "serve/request_fields.hpp"
#include "serve/service.hpp"

namespace kinema::serve {

void add_character_routes(httplib::Server& server, Service& service);

// The character a create request names (the first of `characters`, else the first @NAME in the
// prompt), or nullopt; unknown or another owner's ids are ApiError 404.
std::optional<Character> requested_character(const Service& s, const std::string& owner, const Fields& f,
                                             const std::string& prompt);

// A copy of the character's image under uploads/ for one job (a job and its character are
// deleted independently); returns the copy's name.
std::string copy_character_image(const Service& s, const Character& c);

}  // namespace kinema::serve
