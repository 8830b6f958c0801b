// Scene <-> JSON. Enums are written by name; unknown fields are rejected so that typos in a
// hand-written spec are reported instead of silently ignored.
#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "world/internal.hpp"

namespace kinema::world {
namespace {

using nlohmann::json;

template <typename E>
E enum_from(const json& j, const char* field, const char* (*name)(E), int count) {
  check(j.is_string(), "world.json", "field '", field, "' must be a name; got ", j.dump());
  const std::string v = j.get<std::string>();
  std::string allowed;
  for (int i = 0; i < count; ++i) {
    if (v == name(E(i))) return E(i);
    allowed += (i ? ", " : "") + std::string(name(E(i)));
  }
  fail("world.json", "unknown value for '", field, "'; got '", v, "', expected one of ", allowed);
}

double num(const json& j, const char* field) {
  check(j.is_number(), "world.json", "field '", field, "' must be a number; got ", j.dump());
  return j.get<double>();
}

int integer(const json& j, const char* field) {
  check(j.is_number_integer(), "world.json", "field '", field, "' must be an integer; got ", j.dump());
  return j.get<int>();
}

void only_fields(const json& j, const char* where, std::initializer_list<const char*> allowed) {
  check(j.is_object(), "world.json", where, " must be an object; got ", j.dump());
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    check(ok, "world.json", "unknown field '", it.key(), "' in ", where);
  }
}

json object_json(const Object& o) {
  json j = {{"shape", shape_name(o.shape)}, {"color", color_name(o.color)}, {"size", size_name(o.size)},
            {"x", o.x}, {"y", o.y}, {"angle", o.angle}, {"behavior", behavior_name(o.behavior)},
            {"dir", dir_name(o.dir)}, {"speed", o.speed}, {"start", o.start}, {"target", o.target},
            {"effect", effect_name(o.effect)}, {"effect_color", color_name(o.effect_color)},
            {"layer", o.layer}};
  return j;
}

Object object_from(const json& j) {
  only_fields(j, "object", {"shape", "color", "size", "x", "y", "angle", "behavior", "dir", "speed",
                            "start", "target", "effect", "effect_color", "layer"});
  Object o;
  if (j.contains("shape")) o.shape = enum_from(j["shape"], "shape", shape_name, kShapeCount);
  if (j.contains("color")) o.color = enum_from(j["color"], "color", color_name, kColorCount);
  if (j.contains("size")) o.size = enum_from(j["size"], "size", size_name, 3);
  if (j.contains("x")) o.x = num(j["x"], "x");
  if (j.contains("y")) o.y = num(j["y"], "y");
  if (j.contains("angle")) o.angle = num(j["angle"], "angle");
  if (j.contains("behavior")) o.behavior = enum_from(j["behavior"], "behavior", behavior_name, 10);
  if (j.contains("dir")) o.dir = enum_from(j["dir"], "dir", dir_name, 8);
  if (j.contains("speed")) o.speed = num(j["speed"], "speed");
  if (j.contains("start")) o.start = num(j["start"], "start");
  if (j.contains("target")) o.target = integer(j["target"], "target");
  if (j.contains("effect")) o.effect = enum_from(j["effect"], "effect", effect_name, 3);
  if (j.contains("effect_color")) o.effect_color = enum_from(j["effect_color"], "effect_color", color_name, kColorCount);
  if (j.contains("layer")) o.layer = integer(j["layer"], "layer");
  return o;
}

}  // namespace

std::string to_json(const Scene& s) {
  json objs = json::array();
  for (const Object& o : s.objects) objs.push_back(object_json(o));
  const Camera& c = s.camera;
  json j = {{"width", s.width}, {"height", s.height}, {"fps", s.fps}, {"frames", s.frames},
            {"background", background_name(s.background)}, {"bg_top", s.bg_top},
            {"bg_bottom", s.bg_bottom}, {"objects", objs},
            {"camera", {{"motion", camera_name(c.motion)}, {"amount", c.amount}, {"cut", c.cut},
                        {"cut_zoom", c.cut_zoom}, {"cut_x", c.cut_x}, {"cut_y", c.cut_y}}},
            {"seed", s.seed}};
  return j.dump();
}

Scene scene_from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("world.json", "not valid JSON: ", e.what());
  }
  only_fields(j, "scene", {"width", "height", "fps", "frames", "background", "bg_top", "bg_bottom",
                           "objects", "camera", "seed"});
  Scene s;
  if (j.contains("width")) s.width = integer(j["width"], "width");
  if (j.contains("height")) s.height = integer(j["height"], "height");
  if (j.contains("fps")) s.fps = integer(j["fps"], "fps");
  if (j.contains("frames")) s.frames = integer(j["frames"], "frames");
  if (j.contains("background")) s.background = enum_from(j["background"], "background", background_name, 5);
  if (j.contains("bg_top")) s.bg_top = integer(j["bg_top"], "bg_top");
  if (j.contains("bg_bottom")) s.bg_bottom = integer(j["bg_bottom"], "bg_bottom");
  if (j.contains("objects")) {
    check(j["objects"].is_array(), "world.json", "'objects' must be an array; got ", j["objects"].dump());
    for (const json& o : j["objects"]) s.objects.push_back(object_from(o));
  }
  if (j.contains("camera")) {
    const json& c = j["camera"];
    only_fields(c, "camera", {"motion", "amount", "cut", "cut_zoom", "cut_x", "cut_y"});
    if (c.contains("motion")) s.camera.motion = enum_from(c["motion"], "camera.motion", camera_name, 5);
    if (c.contains("amount")) s.camera.amount = num(c["amount"], "camera.amount");
    if (c.contains("cut")) s.camera.cut = num(c["cut"], "camera.cut");
    if (c.contains("cut_zoom")) s.camera.cut_zoom = num(c["cut_zoom"], "camera.cut_zoom");
    if (c.contains("cut_x")) s.camera.cut_x = num(c["cut_x"], "camera.cut_x");
    if (c.contains("cut_y")) s.camera.cut_y = num(c["cut_y"], "camera.cut_y");
  }
  if (j.contains("seed")) {
    check(j["seed"].is_number_unsigned() || j["seed"].is_number_integer(), "world.json",
          "'seed' must be a non-negative integer; got ", j["seed"].dump());
    s.seed = j["seed"].get<uint64_t>();
  }
  validate(s);
  return s;
}

void validate(const Scene& s) {
  check(s.width >= 8 && s.width <= 8192 && s.height >= 8 && s.height <= 8192, "world.scene",
        "frame size out of range; got ", s.width, "x", s.height, ", expected 8..8192 each");
  check(s.fps >= 1 && s.fps <= 240, "world.scene", "fps out of range; got ", s.fps, ", expected 1..240");
  check(s.frames >= 1 && s.frames <= 100000, "world.scene", "frame count out of range; got ", s.frames,
        ", expected 1..100000");
  const int nbg = int(background_palette().size());
  check(s.bg_top >= 0 && s.bg_top < nbg && s.bg_bottom >= 0 && s.bg_bottom < nbg, "world.scene",
        "background colour index out of range; got ", s.bg_top, ",", s.bg_bottom, ", expected 0..", nbg - 1);
  check(s.objects.size() <= kMaxObjects, "world.scene", "too many objects; got ", s.objects.size(), ", expected <= ",
        kMaxObjects);
  const int n = int(s.objects.size());
  for (int i = 0; i < n; ++i) {
    const Object& o = s.objects[i];
    check(std::isfinite(o.x) && std::isfinite(o.y) && std::isfinite(o.speed) && std::isfinite(o.angle) &&
              std::isfinite(o.start) && o.start >= 0,
          "world.scene", "object ", i, " has a non-finite or negative value");
    const bool needs_target = o.behavior == Behavior::orbit || o.effect != Effect::none;
    check(!needs_target || (o.target >= 0 && o.target < n && o.target != i), "world.scene", "object ", i,
          " (", behavior_name(o.behavior), ") needs a target among the other objects; got ", o.target);
  }
  check(s.camera.cut >= 0 && s.camera.cut_zoom > 0.1 && s.camera.cut_zoom < 10, "world.scene",
        "camera cut settings out of range; got cut=", s.camera.cut, " zoom=", s.camera.cut_zoom);
}

}  // namespace kinema::world
