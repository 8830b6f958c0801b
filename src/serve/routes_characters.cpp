#include <filesystem>
#include <fstream>

#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "serve/characters.hpp"
#include "serve/random_id.hpp"
#include "serve/video_source.hpp"

namespace kinema::serve {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxName = 80;  // OpenAI's limit on a character's name

json character_json(const Character& c) {
  return {{"id", c.id}, {"object", "video.character"}, {"name", c.name}, {"created_at", c.created_at}};
}

Character owned_character(const Service& s, const std::string& id, const std::string& owner) {
  auto c = s.store.get_character(id);
  if (!c || c->owner != owner) throw not_found("No character found with id '" + id + "'.");
  return *c;
}

// The reference image of an upload: an image as it is, or a video's first frame as PNG.
std::string store_reference(const Service& s, const Upload& up) {
  const std::string name = "char_" + random_hex(16);
  if (const std::string kind = image_kind(up.bytes); !kind.empty()) {
    std::ofstream(s.uploads_dir() + "/" + name + "." + kind, std::ios::binary) << up.bytes;
    return name + "." + kind;
  }
  const std::string kind = video_kind(up.bytes);
  if (kind.empty())
    throw bad_request("video", "video must be an MP4, MOV, WebM, MKV or GIF file, or a PNG, JPEG or WebP image; '" +
                                   up.filename + "' is none of these");
  const std::string clip = s.uploads_dir() + "/" + name + ".clip." + kind, image = name + ".png";
  std::ofstream(clip, std::ios::binary) << up.bytes;
  try {
    VideoReadOptions ro;
    ro.duration_s = 0.5, ro.timeout_s = 20;  // the first frame is all that is kept
    const std::vector<Frame> frames = read_video(clip, ro);
    check(!frames.empty(), "serve", "it has no frames");
    write_image(s.uploads_dir() + "/" + image, frames[0]);
  } catch (const Error& e) {
    fs::remove(clip);
    throw bad_request("video", "the uploaded video '" + up.filename.substr(0, 200) + "' cannot be read: " + e.what());
  }
  fs::remove(clip);
  return image;
}

void create(Service& s, const httplib::Request& req, httplib::Response& res) {
  const std::string owner = s.authenticate(req);
  const Fields f = parse_fields(req);
  const std::string name = f.get("name");
  if (name.find_first_not_of(" \t\r\n") == std::string::npos)
    throw bad_request("name", "Missing required parameter: 'name'.");
  if (name.size() > kMaxName) throw bad_request("name", "name is longer than 80 characters");
  if (!f.file || f.file->field != "video")
    throw bad_request("video", "Missing required parameter: 'video' (a multipart file: a short clip or an image).");
  for (const Character& c : s.store.list_characters(owner))
    if (c.name == name) throw bad_request("name", "You already have a character named '" + name + "' (" + c.id + ").");
  Character c;
  c.id = "char_" + random_hex(16), c.owner = owner, c.name = name, c.created_at = unix_now();
  c.file = store_reference(s, *f.file);
  s.store.add_character(c);
  send_json(res, character_json(c));
}

void list(Service& s, const httplib::Request& req, httplib::Response& res) {
  json data = json::array();
  for (const Character& c : s.store.list_characters(s.authenticate(req))) data.push_back(character_json(c));
  send_json(res, {{"object", "list"}, {"data", data}});
}

void remove(Service& s, const httplib::Request& req, httplib::Response& res) {
  const Character c = owned_character(s, req.matches[1], s.authenticate(req));
  s.store.remove_character(c.id);
  std::error_code ec;
  fs::remove(s.uploads_dir() + "/" + c.file, ec);
  send_json(res, {{"id", c.id}, {"object", "video.character.deleted"}, {"deleted", true}});
}

}  // namespace

std::optional<Character> requested_character(const Service& s, const std::string& owner, const Fields& f,
                                             const std::string& prompt) {
  if (f.has("characters")) {  // ids, comma-joined by parse_fields
    const std::string ids = f.get("characters");
    const std::string first = ids.substr(0, ids.find(','));
    if (!first.empty()) return owned_character(s, first, owner);
  }
  if (prompt.find('@') == std::string::npos) return std::nullopt;
  std::optional<Character> best;
  size_t best_at = std::string::npos;
  for (const Character& c : s.store.list_characters(owner)) {
    const size_t at = prompt.find("@" + c.name);
    // The earliest mention; at one place, the longest name (@Bobby over @Bob).
    if (at != std::string::npos && (at < best_at || (at == best_at && c.name.size() > best->name.size())))
      best = c, best_at = at;
  }
  return best;
}

std::string copy_character_image(const Service& s, const Character& c) {
  const std::string name = random_hex(16) + fs::path(c.file).extension().string();
  std::error_code ec;
  fs::copy_file(s.uploads_dir() + "/" + c.file, s.uploads_dir() + "/" + name, ec);
  if (ec) throw ApiError(500, "server_error", "", "", "the image of character '" + c.id + "' is no longer stored");
  return name;
}

void add_character_routes(httplib::Server& server, Service& s) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  const std::string id = "/v1/videos/characters/(char_[A-Za-z0-9_-]{1,80})";
  server.Post("/v1/videos/characters", guarded([&s](Req q, Res r) { create(s, q, r); }));
  server.Get("/v1/videos/characters", guarded([&s](Req q, Res r) { list(s, q, r); }));
  server.Get(id, guarded([&s](Req q, Res r) {
    send_json(r, character_json(owned_character(s, q.matches[1], s.authenticate(q))));
  }));
  server.Delete(id, guarded([&s](Req q, Res r) { remove(s, q, r); }));
}

}  // namespace kinema::serve
