#include "serve/video_source.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "serve/expiry.hpp"
#include "serve/random_id.hpp"
#include "serve/request_map.hpp"

namespace kinema::serve {

namespace fs = std::filesystem;
using nlohmann::json;

std::string video_kind(const std::string& b) {
  if (b.size() >= 12 && b.compare(4, 4, "ftyp") == 0) return "mp4";  // MP4 and MOV (ISO BMFF)
  if (b.size() >= 4 && b.compare(0, 4, "\x1a\x45\xdf\xa3") == 0) return "webm";  // EBML: WebM and MKV
  if (b.size() >= 6 && (b.compare(0, 6, "GIF87a") == 0 || b.compare(0, 6, "GIF89a") == 0)) return "gif";
  return "";
}

VideoSource stored_source(const Service& s, const std::string& owner, const std::string& id, const char* use) {
  const Job src = s.owned_job(id, owner);
  if (src.status != "completed")
    throw bad_request("video", "Video '" + src.id + "' is " + src.status + "; only a completed video can be " + use + ".");
  if (is_expired(src, unix_now()))
    throw ApiError(400, "invalid_request_error", "video_expired", "video",
                   "Video '" + src.id + "' expired at " + std::to_string(src.expires_at) +
                       " (unix time); its files are no longer stored.");
  VideoSource v;
  v.id = src.id, v.params = json::parse(src.params), v.model = src.model, v.size = src.size, v.seconds = src.seconds;
  v.video = json::parse(src.files).at("video");
  return v;
}

VideoSource uploaded_source(const Service& s, const Upload& up) {
  const std::string kind = video_kind(up.bytes);
  if (kind.empty())
    throw bad_request("video", "video must be an MP4, MOV, WebM, MKV or GIF file (or {\"id\": \"video_...\"}); '" +
                                   up.filename + "' is none of these");
  VideoSource v;
  v.upload = random_hex(16) + "." + kind, v.filename = up.filename.substr(0, 200);
  const std::string path = s.uploads_dir() + "/" + v.upload;
  std::ofstream(path, std::ios::binary) << up.bytes;
  const ModelInfo& m = s.options.model;
  int frames = 0, width = 0, height = 0;
  try {
    const MediaInfo info = probe_media(path);
    width = info.width, height = info.height;
    VideoReadOptions ro;  // every frame decoded, at a size that costs no memory
    ro.width = 16, ro.height = 16, ro.max_frames = 4 * int64_t(m.max_frames), ro.timeout_s = 20;
    frames = int(read_video(path, ro).size());
  } catch (const Error& e) {
    fs::remove(path);
    throw bad_request("video", "the uploaded video '" + v.filename + "' cannot be read: " + e.what());
  }
  if (frames < 1 || width < 1 || height < 1) {
    fs::remove(path);
    throw bad_request("video", "the uploaded video '" + v.filename + "' has no frames");
  }
  const auto [w, h] = map_size(m, std::to_string(width) + "x" + std::to_string(height));
  frames = 1 + 4 * ((std::min(frames, m.max_frames) - 1) / 4);  // 1 + 4k, as the model makes them
  v.params = {{"width", w}, {"height", h}, {"frames", frames}, {"fps", m.fps}};
  v.model = m.name, v.size = std::to_string(w) + "x" + std::to_string(h), v.seconds = seconds_string(frames, m.fps);
  return v;
}

}  // namespace kinema::serve
