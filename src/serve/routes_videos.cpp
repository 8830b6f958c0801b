// The Videos API: create, retrieve, list, delete, download content, remix.
#include <chrono>
#include <filesystem>
#include <fstream>

#include "kinema/error.hpp"
#include "kinema/storyboard.hpp"
#include "serve/characters.hpp"
#include "serve/expiry.hpp"
#include "serve/random_id.hpp"
#include "serve/request_fields.hpp"
#include "serve/request_map.hpp"
#include "serve/service.hpp"
#include "serve/video_source.hpp"

namespace kinema::serve {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxPrompt = 10000;
const char* const kId = R"(([A-Za-z0-9_-]{1,80}))";

std::string route(const std::string& pattern) {
  std::string r = pattern;
  r.replace(r.find("{id}"), 4, kId);
  return r;
}

// kinema's own options, after the API's fields: seed, steps, sampler, cfg, negative, loop.
void read_extras(const Fields& f, json& p) {
  auto integer = [&](const char* key, int64_t lo, int64_t hi) -> std::optional<int64_t> {
    if (!f.has(key)) return std::nullopt;
    try {
      size_t used = 0;
      const long long v = std::stoll(f.get(key), &used);
      if (used == f.get(key).size() && v >= lo && v <= hi) return v;
    } catch (const std::exception&) {
    }
    throw bad_request(key, std::string(key) + " must be an integer in [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]; got '" + f.get(key) + "'");
  };
  if (auto s = integer("seed", 0, INT64_MAX)) p["seed"] = uint64_t(*s);
  else p["seed"] = std::stoull(random_hex(6), nullptr, 16);
  if (auto s = integer("steps", 1, 200)) p["steps"] = int(*s);
  if (f.has("cfg")) {
    char* end = nullptr;
    const std::string t = f.get("cfg");
    const double c = std::strtod(t.c_str(), &end);
    if (t.empty() || *end || !(c >= 0 && c <= 30)) throw bad_request("cfg", "cfg must be a number in [0, 30]");
    p["cfg"] = c;
  }
  if (f.has("sampler")) {
    const std::string s = f.get("sampler");
    if (s != "euler" && s != "heun" && s != "unipc" && s != "dpm++")
      throw bad_request("sampler", "sampler must be euler, heun, unipc or dpm++; got '" + s + "'");
    p["sampler"] = s;
  }
  if (f.has("negative")) p["negative"] = f.get("negative").substr(0, kMaxPrompt);
  if (f.has("loop")) {
    const std::string l = f.get("loop");
    if (l != "true" && l != "false") throw bad_request("loop", "loop must be true or false; got '" + l + "'");
    p["loop"] = l == "true";
    if (p["loop"] && p.value("frames", 0) < 9)
      throw bad_request("seconds", "a loop needs at least 9 frames (two passes); ask for more seconds");
  }
}

// kinema's storyboard: the field `storyboard` (a JSON list of shots, as `kinema generate
// --storyboard` reads) or [shot] markers in the prompt (the requested seconds split evenly). The
// shots are stored as JSON for the renderer; the video is all of them, so `frames` becomes their
// sum (shots without seconds get the request's own length, `shot_frames`).
void read_storyboard(const Fields& f, const std::string& prompt, const ModelInfo& m, double seconds, json& p) {
  if (!f.has("storyboard") && !has_shot_markers(prompt)) return;
  if (p.value("loop", false)) throw bad_request("storyboard", "a storyboard cannot also be a loop");
  Storyboard board;
  try {
    board = f.has("storyboard") ? storyboard_from_json(f.get("storyboard")) : storyboard_from_prompt(prompt, seconds);
  } catch (const Error& e) {
    throw bad_request("storyboard", e.what());
  }
  if (board.shots.size() > 32) throw bad_request("storyboard", "a storyboard has at most 32 shots");
  const int per_shot = p["frames"], total = storyboard_frames(board, m.fps, per_shot);
  if (total > m.max_frames)
    throw bad_request("storyboard", "the shots add up to " + seconds_string(total, m.fps) + " s, longer than this server "
                                    "makes (" + seconds_string(m.max_frames, m.fps) + " s)");
  json shots = json::array();
  for (const Shot& s : board.shots) shots.push_back({{"prompt", s.prompt}, {"seconds", s.seconds}, {"camera", s.camera}});
  p["storyboard"] = shots.dump(), p["shot_frames"] = per_shot, p["frames"] = total;
}

// The content of a video whose retention ran out (docs/serve.md, "Expiry").
ApiError expired(const Job& j) {
  return ApiError(404, "invalid_request_error", "video_expired", "",
                  "Video '" + j.id + "' expired at " + std::to_string(j.expires_at) +
                      " (unix time); its files are no longer stored.");
}

std::string checked_prompt(const Fields& f) {
  if (!f.has("prompt")) throw bad_request("prompt", "Missing required parameter: 'prompt'.");
  const std::string p = f.get("prompt");
  if (p.find_first_not_of(" \t\r\n") == std::string::npos) throw bad_request("prompt", "prompt must not be empty");
  if (p.size() > kMaxPrompt) throw bad_request("prompt", "prompt is longer than 10000 characters");
  return p;
}

std::string checked_model(const Service& s, const Fields& f) {
  const std::string m = f.get("model", "sora-2");
  if (m == s.options.model.name || m.rfind("sora-2", 0) == 0 || m == "kinema") return m;
  throw ApiError(400, "invalid_request_error", "model_not_found", "model",
                 "The model '" + m + "' does not exist; GET /v1/models lists them.");
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The owner's rate (creations in the last minute) and quota (stored videos); under submit_mu.
void check_limits(Service& s, const std::string& owner) {
  if (s.options.quota > 0 && s.store.count_owned(owner) >= s.options.quota)
    throw ApiError(429, "insufficient_quota", "insufficient_quota", "",
                   "You have " + std::to_string(s.options.quota) + " stored videos, the most this server keeps per "
                   "key owner; delete some first.");
  if (s.options.rate_per_minute <= 0) return;
  auto& times = s.recent_creates[owner];
  const int64_t now = now_ms();
  std::erase_if(times, [&](int64_t t) { return now - t >= 60000; });
  if (int(times.size()) >= s.options.rate_per_minute) {
    ApiError e(429, "requests", "rate_limit_exceeded", "",
               "Rate limit reached: " + std::to_string(s.options.rate_per_minute) + " videos per minute.");
    e.retry_after = int((60000 - (now - times.front()) + 999) / 1000);
    throw e;
  }
  times.push_back(now);
}

// Inserts the job unless a limit says no: the owner's rate or quota, or a full queue (429 with
// Retry-After: about one render per worker).
void submit(Service& s, Job& job) {
  std::lock_guard lock(s.submit_mu);
  if (s.store.count_queued() >= s.options.queue_limit) {
    ApiError e(429, "rate_limit_exceeded", "queue_full", "",
               "The render queue is full (" + std::to_string(s.options.queue_limit) + " jobs); retry later.");
    e.retry_after = 30;
    throw e;
  }
  check_limits(s, job.owner);  // last: a refused request does not count against the rate
  job.created_at = unix_now();
  s.store.insert(job);
  s.runner.wake();
  s.runner.notify();
}

void create(Service& s, const httplib::Request& req, httplib::Response& res) {
  const std::string owner = s.authenticate(req);
  const Fields f = parse_fields(req);
  Job job;
  job.id = "video_" + random_hex(16), job.owner = owner, job.prompt = checked_prompt(f);
  const std::string requested_model = checked_model(s, f);
  const ModelInfo& m = s.options.model;
  const std::string size = f.get("size", "720x1280"), seconds = f.get("seconds", "4");
  const auto [w, h] = map_size(m, size);
  const int frames = map_frames(m, seconds);
  json p = {{"width", w}, {"height", h}, {"frames", frames}, {"fps", m.fps},
            {"requested", {{"model", requested_model}, {"size", size}, {"seconds", seconds}}}};
  read_extras(f, p);
  read_storyboard(f, job.prompt, m, std::strtod(seconds.c_str(), nullptr), p);
  const std::optional<Character> character = requested_character(s, owner, f, job.prompt);
  if (character && f.file)
    throw bad_request("input_reference", "give an input_reference or a character (@" + character->name + "), not both");
  if (character) {
    p["input_reference"] = copy_character_image(s, *character);
    p["requested"]["character"] = character->id;
  }
  if (f.file && f.file->field != "input_reference")
    throw bad_request(f.file->field, "unexpected file field '" + f.file->field + "'; an image goes in input_reference");
  if (f.file) {
    const std::string kind = image_kind(f.file->bytes);
    if (kind.empty()) throw bad_request("input_reference", "input_reference must be a PNG, JPEG or WebP image");
    const std::string name = random_hex(16) + "." + kind;
    std::ofstream(s.uploads_dir() + "/" + name, std::ios::binary) << f.file->bytes;
    p["input_reference"] = name;
  }
  job.model = m.name, job.size = std::to_string(w) + "x" + std::to_string(h);
  job.seconds = seconds_string(p["frames"], m.fps), job.params = json_text(p);
  try {
    submit(s, job);
  } catch (...) {
    if (p.contains("input_reference")) fs::remove(s.uploads_dir() + "/" + p["input_reference"].get<std::string>());
    throw;
  }
  send_json(res, video_json(job));
}

// A derived job's parameters start from its source's; these name the source's own sources and
// mode, which the new job does not inherit.
constexpr const char* kSourceKeys[] = {"input_reference", "remix_source", "remix_source_upload", "extend_source",
                                       "extend_source_upload", "extend_frames", "join_source", "join_frames",
                                       "loop", "seed", "strength", "storyboard", "shot_frames"};

// Removes a stored upload unless the request that stored it got its job queued.
struct UploadGuard {
  const Service& s;
  const std::string& name;
  bool keep = false;
  ~UploadGuard() {
    std::error_code ec;
    if (!keep && !name.empty()) fs::remove(s.uploads_dir() + "/" + name, ec);
  }
};

// The source of an edit or an extension: video: {"id"} (JSON, or multipart video[id]), or an
// uploaded video file in the multipart field `video`.
VideoSource source_of(Service& s, const std::string& owner, const Fields& f, const char* use) {
  if (f.file && f.file->field == "video") return uploaded_source(s, *f.file);
  if (f.file) throw bad_request(f.file->field, "unexpected file field '" + f.file->field + "'");
  if (!f.has("video[id]"))
    throw bad_request("video", "Missing required parameter: 'video' ({\"id\": \"video_...\"} or a video file).");
  return stored_source(s, owner, f.get("video[id]"), use);
}

// A new job from a source video's frames (SDEdit at `strength`, default 0.6) and a new prompt:
// a remix (POST /v1/videos/{id}/remix) or an edit (POST /v1/videos/edits with video: {"id"} or
// an uploaded video). A source longer than one model chunk is remade from its first chunk.
void derive(Service& s, const std::string& owner, const VideoSource& src, const Fields& f, const char* kind,
            httplib::Response& res) {
  UploadGuard guard{s, src.upload};
  Job job;
  job.id = "video_" + random_hex(16), job.owner = owner, job.prompt = checked_prompt(f);
  json p = src.params;
  for (const char* k : kSourceKeys) p.erase(k);
  if (src.upload.empty()) p["remix_source"] = src.video, p["requested"] = {{std::string(kind) + "_of", src.id}};
  else p["remix_source_upload"] = src.upload, p["requested"] = {{std::string(kind) + "_of_upload", src.filename}};
  read_extras(f, p);
  if (f.has("strength")) {
    char* end = nullptr;
    const std::string t = f.get("strength");
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end || !(v >= 0 && v <= 1)) throw bad_request("strength", "strength must be a number in [0, 1]");
    p["strength"] = v;
  }
  job.model = src.model, job.size = src.size, job.seconds = src.seconds, job.remixed_from = src.id;
  job.params = json_text(p);
  submit(s, job);
  guard.keep = true;
  send_json(res, video_json(job));
}

void remix(Service& s, const httplib::Request& req, httplib::Response& res) {
  const std::string owner = s.authenticate(req);
  s.owned_job(req.matches[1], owner);  // 404 before looking at the body
  const Fields f = parse_fields(req);
  derive(s, owner, stored_source(s, owner, req.matches[1], "remixed"), f, "remix", res);
}

void edit(Service& s, const httplib::Request& req, httplib::Response& res) {
  const std::string owner = s.authenticate(req);
  const Fields f = parse_fields(req);
  checked_prompt(f);  // before storing an upload
  derive(s, owner, source_of(s, owner, f, "edited"), f, "edit", res);
}

// kinema's join (an extra field of an extension, `join: "video_..."`): the `seconds` generated
// lead from the source's end into the start of another completed video of the same size, which
// follows them. Returns that video's frames.
int join_into(const Service& s, const std::string& owner, const VideoSource& from, const std::string& id, json& p) {
  const VideoSource to = stored_source(s, owner, id, "joined");
  if (to.size != from.size)
    throw bad_request("join", "the videos differ in size (" + from.size + " and " + to.size + "); join videos of one size");
  const int frames = to.params.value("frames", 0);
  if (frames < 4) throw bad_request("join", "video '" + id + "' is too short to join (at least 4 frames)");
  p["join_source"] = to.video, p["join_frames"] = frames, p["requested"]["join_of"] = to.id;
  return frames;
}

// An extension continues a source video by `seconds` (rounded to whole latent frames); the new
// video holds the source and its continuation, and its `seconds` is the stitched total.
void extend(Service& s, const httplib::Request& req, httplib::Response& res) {
  const std::string owner = s.authenticate(req);
  const Fields f = parse_fields(req);
  checked_prompt(f);
  const int added = map_frames(s.options.model, f.get("seconds", "4")) - 1;  // a multiple of 4
  const VideoSource src = source_of(s, owner, f, "extended");
  UploadGuard guard{s, src.upload};
  Job job;
  job.id = "video_" + random_hex(16), job.owner = owner, job.prompt = checked_prompt(f);
  json p = src.params;
  const int fps = p.value("fps", s.options.model.fps), before = p.value("frames", 0);
  if (before + added > s.options.model.max_frames)
    throw bad_request("seconds", "the extended video would be longer than this server makes (" +
                                     seconds_string(s.options.model.max_frames, fps) + " s)");
  for (const char* k : kSourceKeys) p.erase(k);
  if (src.upload.empty()) p["extend_source"] = src.video, p["requested"] = {{"extend_of", src.id}};
  else p["extend_source_upload"] = src.upload, p["requested"] = {{"extend_of_upload", src.filename}};
  p["requested"]["seconds"] = f.get("seconds", "4");
  const int after = f.has("join") ? join_into(s, owner, src, f.get("join"), p) : 0;
  if (before + added + after > s.options.model.max_frames)
    throw bad_request("join", "the joined video would be longer than this server makes (" +
                                  seconds_string(s.options.model.max_frames, fps) + " s)");
  p["extend_frames"] = added, p["frames"] = before + added + after;
  read_extras(f, p);
  job.model = src.model, job.size = src.size, job.seconds = seconds_string(before + added + after, fps);
  job.remixed_from = "";
  job.params = json_text(p);
  submit(s, job);
  guard.keep = true;
  send_json(res, video_json(job));
}

void retrieve(Service& s, const httplib::Request& req, httplib::Response& res) {
  send_json(res, video_json(s.owned_job(req.matches[1], s.authenticate(req))));
}

void list(Service& s, const httplib::Request& req, httplib::Response& res) {
  ListQuery q;
  q.owner = s.authenticate(req);
  if (req.has_param("limit")) {
    const std::string l = req.get_param_value("limit");
    if (l.empty() || l.size() > 3 || l.find_first_not_of("0123456789") != std::string::npos || std::stoi(l) < 1 ||
        std::stoi(l) > 100)
      throw bad_request("limit", "limit must be an integer from 1 to 100; got '" + l + "'");
    q.limit = std::stoi(l);
  }
  const std::string order = req.has_param("order") ? req.get_param_value("order") : "desc";
  if (order != "asc" && order != "desc") throw bad_request("order", "order must be 'asc' or 'desc'");
  q.ascending = order == "asc";
  if (req.has_param("after")) {
    q.after = req.get_param_value("after");
    const auto cursor = s.store.get(q.after);
    if (!cursor || cursor->owner != q.owner) throw bad_request("after", "No video found with id '" + q.after + "'.");
  }
  const ListResult r = s.store.list(q);
  json data = json::array();
  for (const Job& j : r.jobs) data.push_back(video_json(j));
  json body = {{"object", "list"}, {"data", data}, {"has_more", r.has_more}, {"first_id", nullptr}, {"last_id", nullptr}};
  if (!r.jobs.empty()) body["first_id"] = r.jobs.front().id, body["last_id"] = r.jobs.back().id;
  send_json(res, body);
}

void remove(Service& s, const httplib::Request& req, httplib::Response& res) {
  const Job j = s.owned_job(req.matches[1], s.authenticate(req));
  if (j.status == "in_progress") s.runner.cancel(j.id);  // the worker removes what it wrote
  s.store.remove(j.id);
  remove_job_files(s.options.data_dir, j);
  s.runner.notify();
  send_json(res, {{"id", j.id}, {"object", "video.deleted"}, {"deleted", true}});
}

void content(Service& s, const httplib::Request& req, httplib::Response& res) {
  const Job j = s.owned_job(req.matches[1], s.authenticate(req));
  const std::string variant = req.has_param("variant") ? req.get_param_value("variant") : "video";
  if (variant != "video" && variant != "thumbnail" && variant != "spritesheet")
    throw bad_request("variant", "variant must be video, thumbnail or spritesheet; got '" + variant + "'");
  if (j.status != "completed")
    throw ApiError(400, "invalid_request_error", "video_not_ready", "",
                   "Video '" + j.id + "' is " + j.status + "; its content is available once it is completed.");
  if (is_expired(j, unix_now())) throw expired(j);
  const std::string path = s.videos_dir() + "/" + json::parse(j.files).at(variant).get<std::string>();
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw not_found("The " + variant + " of video '" + j.id + "' is no longer stored.");
  res.set_header("Content-Disposition", "attachment; filename=\"" + j.id + (variant == "video" ? ".mp4\"" : "." + variant + ".png\""));
  res.set_content_provider(size_t(size), variant == "video" ? "video/mp4" : "image/png",
                           [path](size_t offset, size_t length, httplib::DataSink& sink) {
                             std::ifstream in(path, std::ios::binary);
                             in.seekg(std::streamoff(offset));
                             std::string buf(std::min<size_t>(length, 1 << 16), '\0');
                             in.read(buf.data(), std::streamsize(buf.size()));
                             return in.gcount() > 0 && sink.write(buf.data(), size_t(in.gcount()));
                           });
}

}  // namespace

void add_video_routes(httplib::Server& server, Service& s) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  server.Post("/v1/videos", guarded([&s](Req q, Res r) { create(s, q, r); }));
  server.Get("/v1/videos", guarded([&s](Req q, Res r) { list(s, q, r); }));
  server.Get(route("/v1/videos/{id}"), guarded([&s](Req q, Res r) { retrieve(s, q, r); }));
  server.Delete(route("/v1/videos/{id}"), guarded([&s](Req q, Res r) { remove(s, q, r); }));
  server.Get(route("/v1/videos/{id}/content"), guarded([&s](Req q, Res r) { content(s, q, r); }));
  server.Post(route("/v1/videos/{id}/remix"), guarded([&s](Req q, Res r) { remix(s, q, r); }));
  server.Post("/v1/videos/extensions", guarded([&s](Req q, Res r) { extend(s, q, r); }));
  server.Post("/v1/videos/edits", guarded([&s](Req q, Res r) { edit(s, q, r); }));
}

}  // namespace kinema::serve
