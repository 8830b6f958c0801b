// The character store and @NAME resolution (kinema/characters.hpp).
#include "kinema/characters.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "world/detect.hpp"

namespace fs = std::filesystem;

namespace kinema {
namespace {

constexpr int kTc = 4;

std::string ref_file(int i) {
  char b[32];
  std::snprintf(b, sizeof b, "ref_%03d.png", i);
  return b;
}

std::string strip_article(std::string d) {
  const size_t a = d.find_first_not_of(" \t");
  d = a == std::string::npos ? "" : d.substr(a);
  for (const char* art : {"a ", "an ", "the "}) {
    const size_t n = std::char_traits<char>::length(art);
    std::string head = d.substr(0, n);
    for (char& c : head) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (head == art) return d.substr(n);
  }
  return d;
}

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

nlohmann::json read_meta(const fs::path& dir) {
  std::ifstream in(dir / "character.json");
  check(bool(in), "character", "cannot read ", (dir / "character.json").string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("character", (dir / "character.json").string(), " is not valid JSON: ", e.what());
  }
}

}  // namespace

std::string default_character_dir() {
  if (const char* h = std::getenv("KINEMA_HOME"); h && *h) return (fs::path(h) / "characters").string();
  const char* home = std::getenv("HOME");
  check(home && *home, "character", "neither KINEMA_HOME nor HOME is set; give --dir DIR");
  return (fs::path(home) / ".kinema" / "characters").string();
}

void check_character_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 40 && std::isalpha(static_cast<unsigned char>(name[0])) &&
                  std::all_of(name.begin(), name.end(), name_char);
  check(ok, "character", "'", name, "' is not a character name: a letter, then letters, digits, '_' or '-', ",
        "at most 40 (e.g. Bob or red_ball)");
}

CharacterStore::CharacterStore(std::string dir) : dir_(std::move(dir)) {}

std::vector<std::string> CharacterStore::names() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec))
    if (e.is_directory() && fs::exists(e.path() / "character.json")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

Character CharacterStore::load(const std::string& name) const {
  check_character_name(name);
  const fs::path d = fs::path(dir_) / name;
  if (!fs::exists(d / "character.json")) {
    const std::vector<std::string> known = names();
    std::string list;
    for (const std::string& n : known) list += (list.empty() ? "" : ", ") + n;
    fail("character", "unknown character @", name, " in ", dir_, "; ",
         known.empty() ? "none stored yet: kinema character create clip.mp4 --name " + name : "known: " + list);
  }
  const nlohmann::json m = read_meta(d);
  Character c;
  c.name = name, c.description = m.value("description", ""), c.source = m.value("source", "");
  const int n = m.value("frames", 0);
  check(n >= 1 && (n - 1) % kTc == 0, "character", (d / "character.json").string(), " says ", n,
        " frames; a reference has 1 + 4k");
  for (int i = 0; i < n; ++i) {
    const fs::path f = d / ref_file(i);
    check(fs::exists(f), "character", "@", name, "'s reference frame ", f.string(), " is missing; create it again");
    c.frames.push_back(read_video(f.string()).at(0));
  }
  return c;
}

std::vector<Frame> CharacterStore::reference(const std::string& name, int width, int height) const {
  const size_t n = load(name).frames.size();  // checks the name and the files
  std::vector<Frame> out;
  VideoReadOptions ro;
  ro.width = width, ro.height = height, ro.resize = ResizeMode::crop, ro.max_frames = 1;
  for (size_t i = 0; i < n; ++i) out.push_back(read_video((fs::path(dir_) / name / ref_file(int(i))).string(), ro).at(0));
  return out;
}

void CharacterStore::remove(const std::string& name) const {
  load(name);  // an unknown name lists the known ones
  fs::remove_all(fs::path(dir_) / name);
}

Character CharacterStore::create(const std::string& name, const std::string& clip, const CharacterOptions& o) const {
  check_character_name(name);
  check(o.frames >= 1 && (o.frames - 1) % kTc == 0, "character", "--frames must be 1 + 4k (1, 5, 9, ...); got ",
        o.frames);
  const fs::path d = fs::path(dir_) / name;
  check(!fs::exists(d), "character", "a character named ", name, " exists in ", dir_,
        "; delete it first (kinema character delete ", name, ")");
  check(fs::exists(clip), "character", "input file ", clip, " does not exist");
  const MediaInfo info = probe_media(clip);
  auto nearest = [](int v) { return std::max(16, int(std::lround(v / 16.0)) * 16); };
  VideoReadOptions ro;  // the clip's opening only
  ro.fps = o.fps, ro.duration_s = (o.frames + 0.5) / o.fps, ro.max_frames = o.frames + 2;
  ro.resize = ResizeMode::crop, ro.width = nearest(info.width), ro.height = nearest(info.height);
  std::vector<Frame> frames = read_video(clip, ro);
  check(!frames.empty(), "character", clip, " has no frames");
  frames.resize(std::min(frames.size(), size_t(1 + kTc * ((std::min<int>(int(frames.size()), o.frames) - 1) / kTc))));
  Character c{name, strip_article(o.description.empty() ? describe_subject(frames) : o.description), clip, frames};
  check(!c.description.empty(), "character", "no coloured subject found in ", clip,
        " to describe; give one with --describe \"red ball\"");
  fs::create_directories(d);
  for (size_t i = 0; i < frames.size(); ++i) write_image((d / ref_file(int(i))).string(), frames[i]);
  nlohmann::json m = {{"name", name}, {"description", c.description}, {"source", clip},
                      {"frames", frames.size()}, {"width", frames[0].width}, {"height", frames[0].height}};
  std::ofstream(d / "character.json") << m.dump(2) << "\n";
  return c;
}

std::string describe_subject(const std::vector<Frame>& frames) {
  std::map<std::pair<int, int>, double> area;  // (colour, shape) -> pixels over all frames
  for (const Frame& f : frames)
    for (const world::Detection& d : world::detect(world::Image{f.width, f.height, f.rgb}))
      area[{int(d.color), int(d.shape)}] += d.area;
  if (area.empty()) return "";
  const auto best = std::max_element(area.begin(), area.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  return std::string(world::color_name(world::Color(best->first.first))) + " " +
         world::shape_name(world::Shape(best->first.second));
}

std::vector<std::string> character_mentions(const std::string& prompt) {
  std::vector<std::string> out;
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] != '@' || (i > 0 && name_char(prompt[i - 1]))) continue;  // not an e-mail address
    size_t j = i + 1;
    while (j < prompt.size() && name_char(prompt[j])) ++j;
    const std::string name = prompt.substr(i + 1, j - i - 1);
    check(!name.empty(), "character", "'@' at position ", i, " names no character; write @NAME");
    check_character_name(name);
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

CastPrompt cast_prompt(const std::string& prompt, const CharacterStore& store, int width, int height) {
  CastPrompt out;
  out.names = character_mentions(prompt);
  std::map<std::string, std::string> description;
  for (const std::string& n : out.names) {
    description[n] = store.load(n).description;
    std::vector<Frame> ref = store.reference(n, width, height);
    if (!out.reference.empty())  // after the first: held on its last frame to whole latent frames
      while (ref.size() % kTc) ref.push_back(ref.back());
    out.reference.insert(out.reference.end(), ref.begin(), ref.end());
  }
  std::map<std::string, bool> introduced;
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] != '@' || (i > 0 && name_char(prompt[i - 1]))) {
      out.prompt += prompt[i];
      continue;
    }
    size_t j = i + 1;
    while (j < prompt.size() && name_char(prompt[j])) ++j;
    const std::string name = prompt.substr(i + 1, j - i - 1), d = description[name];
    std::string low = out.prompt.substr(out.prompt.size() - std::min<size_t>(out.prompt.size(), 5));
    for (char& c : low) c = char(std::tolower(static_cast<unsigned char>(c)));
    auto ends = [&](const std::string& w) {  // the prompt already has an article before @NAME
      return low.size() >= w.size() && low.compare(low.size() - w.size(), w.size(), w) == 0 &&
             (low.size() == w.size() || !std::isalpha(static_cast<unsigned char>(low[low.size() - w.size() - 1])));
    };
    const bool article = ends("a ") || ends("an ") || ends("the ");
    const bool vowel = !d.empty() && std::string("aeiou").find(char(std::tolower(d[0]))) != std::string::npos;
    out.prompt += article ? d : (introduced[name] ? "the " : vowel ? "an " : "a ") + d;
    introduced[name] = true;
    i = j - 1;
  }
  return out;
}

}  // namespace kinema
