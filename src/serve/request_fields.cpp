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

}  // namespace

Fields parse_fields(const httplib::Request& req) {
  if (!req.is_multipart_form_data()) {
    if (req.body.empty()) return {};
    return from_json(req.body);
  }
  Fields f;
  for (const auto& [name, part] : req.files) {
    if (!part.filename.empty()) {
      if (f.file) throw bad_request(name, "only one file (input_reference) may be uploaded");
      if (name != "input_reference") throw bad_request(name, "unexpected file field '" + name + "'");
      f.file = Upload{name, part.filename, part.content_type, part.content};
    } else {
      f.text[name] = part.content;
    }
  }
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
