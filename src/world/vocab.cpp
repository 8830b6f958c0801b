// The world's closed vocabulary: names and colours of shapes, colours, behaviours, backgrounds.
#include <cctype>

#include "kinema/error.hpp"
#include "world/internal.hpp"

namespace kinema::world {
namespace {

const char* const kShapes[] = {"circle", "square", "triangle", "star", "ring", "heart", "cross", "hexagon"};
const char* const kColors[] = {"red", "orange", "yellow", "green", "blue", "purple",
                               "pink", "brown", "white", "black", "gray", "cyan"};
// Saturated, mutually distant colours so that the judge can tell them apart after blur and
// compression; backgrounds below are kept away from all of them.
const uint8_t kRgb[kColorCount][3] = {
    {220, 30, 30}, {245, 135, 20}, {245, 220, 30}, {30, 165, 55}, {30, 70, 225}, {135, 45, 185},
    {250, 120, 190}, {125, 70, 30}, {250, 250, 250}, {15, 15, 15}, {128, 128, 128}, {30, 205, 225}};
const char* const kBehaviors[] = {"still", "move", "bounce", "fall", "rotate",
                                  "grow", "shrink", "orbit", "appear", "disappear"};
const char* const kDirs[] = {"right", "up_right", "up", "up_left", "left", "down_left", "down", "down_right"};
const char* const kSizes[] = {"small", "medium", "large"};
const char* const kBackgrounds[] = {"plain", "gradient", "horizon", "night", "stripes"};
const char* const kCameras[] = {"still", "pan_left", "pan_right", "zoom_in", "zoom_out"};
const char* const kEffects[] = {"none", "recolor", "bite"};

}  // namespace

const char* shape_name(Shape s) { return kShapes[int(s)]; }
const char* color_name(Color c) { return kColors[int(c)]; }
const char* behavior_name(Behavior b) { return kBehaviors[int(b)]; }
const char* dir_name(Dir d) { return kDirs[int(d)]; }
const char* size_name(Size s) { return kSizes[int(s)]; }
const char* background_name(Background b) { return kBackgrounds[int(b)]; }
const char* camera_name(CameraMotion m) { return kCameras[int(m)]; }
const char* effect_name(Effect e) { return kEffects[int(e)]; }

void color_rgb(Color c, uint8_t rgb[3]) {
  for (int i = 0; i < 3; ++i) rgb[i] = kRgb[int(c)][i];
}

const std::vector<BgColor>& background_palette() {
  // Muted tones: far (> ~70 in weighted RGB) from every object colour the sampler puts on them.
  static const std::vector<BgColor> p = {
      {"pale blue", {175, 205, 235}}, {"cream", {232, 222, 190}},  {"olive", {110, 125, 70}},
      {"sand", {205, 175, 125}},      {"navy", {25, 30, 75}},       {"lavender", {195, 180, 225}},
      {"slate", {70, 80, 100}},       {"mint", {175, 225, 195}},    {"dusk", {95, 55, 90}},
  };
  return p;
}

double size_radius(Size s) {
  static const double r[] = {0.085, 0.12, 0.165};
  return r[int(s)];
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::string w;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '\'' || c >= 0x80) {
      w += char(std::tolower(c));
    } else {
      if (!w.empty()) out.push_back(w);
      w.clear();
      if (c == ',' || c == '.' || c == ';') out.push_back(std::string(1, char(c)));
    }
  }
  if (!w.empty()) out.push_back(w);
  return out;
}

}  // namespace kinema::world
