// A POST body's fields, whichever way the client sent them: JSON ({"prompt": "...", "seconds":
// "4"}) or multipart/form-data (what the openai client sends for create). Text fields become
// strings (JSON numbers too); one uploaded file (input_reference, or video for edits, extensions
// and characters) is kept as bytes. Anything
// else (bad JSON, nested objects, wrong types, a second file) is ApiError 400 naming the field.
#pragma once
#include <httplib.h>

#include <map>
#include <optional>
#include <string>

namespace kinema::serve {

struct Upload {
  std::string field, filename, content_type, bytes;
};

struct Fields {
  std::map<std::string, std::string> text;
  std::optional<Upload> file;
  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = text.find(key);
    return it == text.end() ? fallback : it->second;
  }
  bool has(const std::string& key) const { return text.count(key) > 0; }
};

Fields parse_fields(const httplib::Request& req);

// The image kind of an upload by its first bytes: "png", "jpeg", "webp", or "" (not an image).
std::string image_kind(const std::string& bytes);

}  // namespace kinema::serve
