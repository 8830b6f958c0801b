// The edit mode on one held-out prompt (src/generate/modes_measure.hpp): the prompt's first
// subject is recoloured in the prompt ("a red star ..." -> "a cyan star ..."), the rendered clip
// is edited with that prompt, and the judge says whether the new colour shows and the old one is
// gone; the output's subjects must stay where the input's are (motion tracks).
#include <optional>

#include "generate/modes_measure.hpp"
#include "kinema/subjects.hpp"

namespace kinema::detail {
namespace {

struct Recolour {
  std::string prompt;
  world::Scene scene;      // the truth with the subject recoloured
  world::Color from, to;
  bool from_unique = true;  // no other subject has the old colour
};

Lab lab_of(const uint8_t rgb[3]) { return srgb_to_lab(rgb[0], rgb[1], rgb[2]); }

// A colour no subject (or trace) has, far from both background colours (the sampler's own rule
// keeps object colours off the background), starting half the palette away from `from`.
std::optional<world::Color> new_colour(const world::Scene& s, world::Color from) {
  const auto& bg = world::background_palette();
  for (int i = 0; i < world::kColorCount; ++i) {
    const auto c = world::Color((int(from) + world::kColorCount / 2 + i) % world::kColorCount);
    bool used = false;
    for (const world::Object& o : s.objects) used |= o.color == c || (o.effect == world::Effect::recolor && o.effect_color == c);
    uint8_t rgb[3];
    world::color_rgb(c, rgb);
    const Lab l = lab_of(rgb);
    if (!used && ciede2000(l, lab_of(bg[size_t(s.bg_top)].rgb)) > 25 && ciede2000(l, lab_of(bg[size_t(s.bg_bottom)].rgb)) > 25)
      return c;
  }
  return std::nullopt;
}

// "a orange" -> "an orange", "an blue" -> "a blue" for the word at `at`; returns its new place.
size_t fix_article(std::string& s, size_t at) {
  const bool vowel = std::string("aeiou").find(s[at]) != std::string::npos;
  if (at >= 2 && s.compare(at - 2, 2, "a ") == 0 && (at == 2 || s[at - 3] == ' ') && vowel) return s.insert(at - 1, "n"), at + 1;
  if (at >= 3 && s.compare(at - 3, 3, "an ") == 0 && (at == 3 || s[at - 4] == ' ') && !vowel) return s.erase(at - 2, 1), at - 1;
  return at;
}

// Replaces every "<from> <shape>" of the prompt (plurals included) by "<to> <shape>".
std::optional<Recolour> recolour_first_subject(const std::string& prompt, const world::Scene& truth) {
  if (truth.objects.empty()) return std::nullopt;
  const world::Object& o = truth.objects[0];
  const auto to = new_colour(truth, o.color);
  if (!to) return std::nullopt;
  Recolour r{prompt, truth, o.color, *to};
  const std::string a = std::string(world::color_name(o.color)) + " " + world::shape_name(o.shape);
  const std::string b = std::string(world::color_name(*to)) + " " + world::shape_name(o.shape);
  size_t at = r.prompt.find(a);
  if (at == std::string::npos) return std::nullopt;
  for (; at != std::string::npos; at = r.prompt.find(a, at + b.size())) {
    r.prompt.replace(at, a.size(), b);
    at = fix_article(r.prompt, at);
  }
  for (world::Object& x : r.scene.objects) {
    if (x.color == o.color && x.shape == o.shape) x.color = *to;
    else if (x.color == o.color) r.from_unique = false;
  }
  return r;
}

// Whether the judge's colour claim "a <colour> object is present" passes; unset when the scene
// makes no such claim (the subject is never in view).
std::optional<bool> colour_shows(const std::vector<world::Image>& frames, const world::Scene& scene, world::Color c) {
  const std::string text = std::string("a ") + world::color_name(c) + " object is present";
  for (const world::Claim& cl : world::judge(frames, scene).claims)
    if (cl.kind == "color" && cl.text == text) return cl.pass;
  return std::nullopt;
}

}  // namespace

void measure_edit(const Pipeline& pipe, const ModeCase& c, PromptMeasures& m) {
  const auto rc = recolour_first_subject(c.base.prompt, c.truth);
  if (!rc) return m.notes.push_back("edit: the first subject could not be recoloured in the prompt; not measured");
  GenerateRequest r = c.base;
  r.prompt = rc->prompt, r.frames = c.F, r.edit = c.clip, r.strength = c.strength;
  const GenerateResult g = pipe.generate(r);
  const std::vector<world::Image> frames = judge_images(g.frames);
  const auto shows_new = colour_shows(frames, rc->scene, rc->to);
  if (!shows_new) return m.notes.push_back("edit: the recoloured subject is never in view; not measured");
  const bool old_gone = !rc->from_unique || !colour_shows(frames, c.truth, rc->from).value_or(false);
  m.add_count("edit.changed", *shows_new && old_gone ? 1 : 0, 1);
  m.add_value("edit.tracks", track_error_px(c.clip, g.frames));
  m.edit_prompt = rc->prompt;
}

}  // namespace kinema::detail
