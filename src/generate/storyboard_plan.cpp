// Shot captions. The default model learnt multi-shot clips from the procedural world, whose
// Scene camera cuts once to a closer framing (camera.cut seconds, cut_zoom around the
// objects) and whose detailed caption says so ("Partway through, the shot cuts to a closer view
// of the same objects, which keep their colours and shapes."). A close-up shot after the first
// is sampled as exactly such a clip: the first shot's frames in front, the cut at the first
// frame of the shot. Subjects a later shot names without colour or size, and the background
// when it names none, are carried over from the first shot, so the captions agree.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "kinema/error.hpp"
#include "kinema/storyboard.hpp"
#include "world/parsed_prompt.hpp"

namespace kinema {
namespace {

constexpr int kTc = 4;

struct Words {
  Framing framing = Framing::unspecified;
  std::string text;  // what is left
};

bool word_edge(const std::string& s, size_t at, size_t len) {
  auto letter = [&](size_t i) { return std::isalnum(static_cast<unsigned char>(s[i])) != 0; };
  return (at == 0 || !letter(at - 1)) && (at + len >= s.size() || !letter(at + len));
}

// Removes framing phrases ("close-up of", "wide shot") from a shot's words; their framing.
Words take_framing(const std::string& text) {
  static const std::pair<const char*, Framing> kPhrases[] = {
      {"close-up of", Framing::close}, {"close up of", Framing::close}, {"closeup of", Framing::close},
      {"closer view of", Framing::close}, {"close shot of", Framing::close}, {"close-up", Framing::close},
      {"close up", Framing::close}, {"closeup", Framing::close}, {"closer view", Framing::close},
      {"close shot", Framing::close}, {"closer", Framing::close}, {"wide shot of", Framing::wide},
      {"wide view of", Framing::wide}, {"establishing shot of", Framing::wide}, {"long shot of", Framing::wide},
      {"wide shot", Framing::wide}, {"wide view", Framing::wide}, {"establishing shot", Framing::wide},
      {"long shot", Framing::wide}, {"wide", Framing::wide}};
  Words w{Framing::unspecified, text};
  for (const auto& [phrase, framing] : kPhrases) {
    const std::string p = phrase;
    for (;;) {
      std::string low = w.text;
      for (char& c : low) c = char(std::tolower(static_cast<unsigned char>(c)));
      size_t at = low.find(p);
      while (at != std::string::npos && !word_edge(low, at, p.size())) at = low.find(p, at + 1);
      if (at == std::string::npos) break;
      w.text.erase(at, p.size());
      w.framing = framing;
    }
  }
  return w;
}

// The camera field: framing words, then motions the world grammar reads ("the camera pans left").
Words camera_words(const std::string& camera, size_t shot) {
  Words w = take_framing(camera);
  std::string motion;
  const std::vector<std::string> words = [&] {
    std::vector<std::string> v;
    std::string cur;
    for (char c : w.text + " ") {
      if (std::isalpha(static_cast<unsigned char>(c))) cur += char(std::tolower(static_cast<unsigned char>(c)));
      else if (!cur.empty()) v.push_back(cur), cur.clear();
    }
    return v;
  }();
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& a = words[i];
    const std::string b = i + 1 < words.size() ? words[i + 1] : "";
    if ((a == "pan" || a == "pans") && (b == "left" || b == "right")) motion += " the camera pans " + b, ++i;
    else if ((a == "zoom" || a == "zooms") && (b == "in" || b == "out")) motion += " the camera zooms " + b, ++i;
    else if (a != "static" && a != "still" && a != "camera" && a != "shot")
      fail("storyboard", "shot ", shot + 1, ": camera word '", a,
           "' is not understood; use close-up, wide, pan left, pan right, zoom in, zoom out or static");
  }
  w.text = motion;
  return w;
}

// The first shot's subject of the same shape gives colour and size a later shot leaves open.
void carry_subjects(world::ParsedPrompt& p, const world::Scene& first) {
  std::vector<bool> used(first.objects.size(), false);
  for (world::PObject& o : p.objects)
    for (size_t k = 0; k < first.objects.size(); ++k) {
      const world::Object& f = first.objects[k];
      if (used[k] || int(f.shape) != o.shape || (o.color >= 0 && int(f.color) != o.color)) continue;
      used[k] = true;
      if (o.color < 0) o.color = int(f.color);
      if (o.size < 0) o.size = int(f.size);
      break;
    }
}

// A later shot's scene in the world's terms; the cut at `cut_s` seconds when close.
world::Scene shot_scene(const std::string& words, const world::Scene& first, uint64_t seed,
                        const world::SampleOptions& opt) {
  world::ParsedPrompt p = world::parse_prompt(words);
  world::Scene s;
  if (p.objects.empty()) {  // "[shot] close-up": the first shot's subjects, as they were
    s = first;
    s.frames = opt.frames, s.camera = world::Camera{};
    if (p.camera >= 0) s.camera.motion = world::CameraMotion(p.camera);
    return s;
  }
  carry_subjects(p, first);
  s = world::fill_scene(p, seed, opt);
  if (p.background < 0 && p.bg_color < 0)
    s.background = first.background, s.bg_top = first.bg_top, s.bg_bottom = first.bg_bottom;
  return s;
}

void cut_at(world::Scene& s, double seconds) {
  s.camera.cut = seconds, s.camera.cut_zoom = 1.5;  // fill_scene's cut for "cuts"
  double mx = 0, my = 0;
  for (const world::Object& o : s.objects) mx += o.x, my += o.y;
  const double n = double(std::max<size_t>(1, s.objects.size()));
  s.camera.cut_x = s.objects.empty() ? 0.5 : mx / n, s.camera.cut_y = s.objects.empty() ? 0.5 : my / n;
  world::validate(s);
}

std::string as_written(const std::string& words, Framing f, size_t shot) {
  if (f == Framing::close) return "Close-up shot. " + words;
  if (f == Framing::wide && shot > 0) return "Wide shot. " + words;
  return words;
}

std::string squeeze(const std::string& s) {  // single spaces, trimmed
  std::string out;
  for (char c : s)
    if (c != ' ' || (!out.empty() && out.back() != ' ')) out += c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace

std::vector<ShotPlan> plan_storyboard(const Pipeline& pipe, const Storyboard& board, const GenerateRequest& base,
                                      const StoryboardOptions& options) {
  GenerateRequest one = base;
  one.frames = 1, one.reference.clear(), one.known.clear(), one.edit.clear();
  const GenerateRequest rs = pipe.resolve(one);  // size and fps
  const int default_frames = base.frames > 0 ? base.frames : pipe.manifest().frames;
  const bool world_style = pipe.manifest().world_prompts && base.expand;
  const int ref = base.reference.empty() ? options.reference_frames : int(base.reference.size());
  std::vector<ShotPlan> plans;
  world::Scene first;
  bool first_understood = false;
  for (size_t i = 0; i < board.shots.size(); ++i) {
    const Shot& shot = board.shots[i];
    const Words said = take_framing(shot.prompt), cam = camera_words(shot.camera, i);
    ShotPlan p;
    p.framing = cam.framing != Framing::unspecified ? cam.framing : said.framing;
    if (i == 0) p.framing = Framing::wide;  // the first shot establishes (a cut needs a shot before it)
    if (p.framing == Framing::unspecified)  // alternate, so that every [shot] cuts between framings
      p.framing = plans.back().framing == Framing::close ? Framing::wide : Framing::close;
    p.frames = shot_frames(shot, rs.fps, default_frames);
    const std::string words = squeeze(said.text + cam.text);
    check(!words.empty() || i > 0, "storyboard", "shot 1 names nothing to show once its framing words are taken");
    const bool in_front = i > 0 || !base.reference.empty();
    const int lead = in_front ? ref + kTc - 1 : 0;  // frames given in front of the shot
    const world::SampleOptions opt{rs.width, rs.height, rs.fps, lead + p.frames};
    if (world_style && i == 0) {
      const world::Expansion e = world::expand(words, base.seed, opt);
      first_understood = e.understood, first = e.scene;
      p.caption = p.continue_caption = e.understood ? e.caption : words;
    } else if (world_style && first_understood) {
      world::Scene s = shot_scene(words, first, base.seed, opt);
      p.continue_caption = world::detailed_caption(s, base.seed);
      if (p.framing == Framing::close) cut_at(s, double(lead) / rs.fps), p.cut_caption = true;
      p.caption = world::detailed_caption(s, base.seed);
    } else {
      p.caption = p.continue_caption = as_written(words.empty() ? board.shots[0].prompt : words, p.framing, i);
    }
    plans.push_back(p);
  }
  return plans;
}

}  // namespace kinema
