// The source of a remix, edit or extension: a completed video of the same owner (video: {"id"}),
// or, for edits and extensions, an uploaded video file (multipart field `video`, as the openai
// client sends an Uploadable). An upload is checked by decoding it with kinema's media reader
// before the job is queued, so a broken file is a 400 naming the problem, never a failed job.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "serve/request_fields.hpp"
#include "serve/service.hpp"

namespace kinema::serve {

struct VideoSource {
  std::string id;            // the source video's id, or "" for an upload
  nlohmann::json params;     // its resolved render: width, height, frames, fps (and more for a job)
  std::string model, size, seconds;
  std::string video;         // the stored MP4 under videos/ (a job), or
  std::string upload;        // the uploaded file under uploads/ (removed again if the request fails)
  std::string filename;      // the upload's own name, as the client sent it
};

// A completed, unexpired video of `owner` (404 when it is not the owner's; 400 param "video"
// otherwise); `use` names the operation in messages ("edited", "extended").
VideoSource stored_source(const Service& s, const std::string& owner, const std::string& id, const char* use);

// Stores and decodes an uploaded video: MP4/MOV, WebM/MKV or GIF. Its size maps onto the model's
// sizes as a request's size does; its frames are taken as they are, at the model's fps (1 + 4k
// of them). 400 invalid_request_error (param "video") when it is not a video or cannot be read.
VideoSource uploaded_source(const Service& s, const Upload& upload);

// The container kind of a video upload by its first bytes: "mp4", "webm", "gif" or "".
std::string video_kind(const std::string& bytes);

}  // namespace kinema::serve
