#include "serve/request_fields.hpp"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "serve/api_error.hpp"

namespace kinema::serve {
namespace {

using nlohmann::json;

// input_reference as JSON: {"image_url": "data:image/png;base64,..."} (a URL to fetch is not
// supported: the server never makes outbound requests).
Upload upload_from_json(const json& v) {
  if (!v.is_object() || !v.contains("image_url") || !v["image_url"].is_string())
    throw bad_request("input_reference", "input_reference must be a file upload or {\"image_url\": \"data:...\"}");
  const std::string url = v["image_url"];
  const auto comma = url.find(',');
  if (url.rfind("data:", 0) != 0 || comma == std::string::npos || url.substr(0, comma).find(";base64") == std::string::npos)
    throw bad_request("input_reference", "input_reference.image_url must be a base64 data URL (no remote fetches)");
  Upload u;
  u.field = "input_reference", u.filename = "image", u.content_type = url.substr(5, url.find(';') - 5);
  u.bytes.resize(url.size() - comma);
  size_t n = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(u.bytes.data()), u.bytes.size(), url.data() + comma + 1,
                        url.size() - comma - 1, " \n\r", &n, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    throw bad_request("input_reference", "input_reference.image_url is not valid base64");
  u.bytes.resize(n);
  return u;
}

Fields from_json(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) throw bad_request("", "We could not parse the JSON body of your request.");
  if (!j.is_object()) throw bad_request("", "The request body must be a JSON object.");
  Fields f;
  for (const auto& [key, v] : j.items()) {
    if (key == "input_reference") {
      f.file = upload_from_json(v);
    } else if (key == "video" && v.is_object()) {  // {"id": "video_..."}, as multipart's video[id]
      for (const auto& [name, inner] : v.items()) {
        if (!inner.is_string()) throw bad_request("video", "video." + name + " must be a string");
        f.text["video[" + name + "]"] = inner.get<std::string>();
      }
    } else if (key == "characters" && v.is_array()) {  // ["char_..."] or [{"id": "char_..."}]
      std::string ids;
      for (const auto& c : v) {
        const json id = c.is_object() && c.contains("id") ? c["id"] : c;
        if (!id.is_string()) throw bad_request("characters", "characters must be a list of character ids");
        ids += (ids.empty() ? "" : ",") + id.get<std::string>();
      }
      f.text[key] = ids;
    } else if (key == "storyboard" && (v.is_array() || v.is_object())) {  // kinema's shots, checked by create
      f.text[key] = v.dump();
    } else if (v.is_string()) {
      f.text[key] = v.get<std::string>();
    } else if (key == "prompt" || key == "model" || key == "size" || key == "negative" || key == "sampler") {
      throw bad_request(key, "'" + key + "' must be a string");
    } else if (v.is_number()) {  // seconds, seed, steps, cfg
      f.text[key] = v.dump();
    } else if (v.is_boolean()) {
      f.text[key] = v.get<bool>() ? "true" : "false";
    } else if (!v.is_null()) {
      throw bad_request(key, "'" + key + "' must be a string or a number");
    }
  }
  return f;
}

// Text fields are stored and echoed: they must be UTF-8 (JSON strings are; multipart parts and
// field names need not be).
bool is_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size() || (n == 2 && c < 0xC2)) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += n;
  }
  return true;
}

Fields parse_multipart(const httplib::Request& req) {
  Fields f;
  for (const auto& [name, part] : req.files) {
    if (!part.filename.empty()) {
      if (f.file) throw bad_request(name, "only one file (input_reference or video) may be uploaded");
      if (name != "input_reference" && name != "video") throw bad_request(name, "unexpected file field '" + name + "'");
      f.file = Upload{name, part.filename, part.content_type, part.content};
    } else if (name == "characters" || name == "characters[]" || name.rfind("characters[", 0) == 0) {
      std::string& ids = f.text["characters"];  // repeated fields: a list of ids
      ids += (ids.empty() ? "" : ",") + part.content;
    } else {
      f.text[name] = part.content;
    }
  }
  return f;
}

}  // namespace

Fields parse_fields(const httplib::Request& req) {
  Fields f = req.is_multipart_form_data() ? parse_multipart(req) : req.body.empty() ? Fields{} : from_json(req.body);
  for (const auto& [key, value] : f.text)
    if (!is_utf8(key) || !is_utf8(value)) throw bad_request(is_utf8(key) ? key : "", "text fields must be UTF-8");
  return f;
}

std::string image_kind(const std::string& b) {
  if (b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return "png";
  if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8 &&
      static_cast<unsigned char>(b[2]) == 0xFF)
    return "jpeg";
  if (b.size() >= 12 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0) return "webp";
  return "";
}

}  // namespace kinema::serve
