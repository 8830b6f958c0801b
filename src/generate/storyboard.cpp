// Storyboards: parsing (a JSON list of shots, or [shot] markers in a prompt) and the shot loop.
// Each shot is one clip (continued in chunks when longer than a chunk); every shot after the
// first has the first shot's anchor frames, or a character's reference, in front (docs/modes.md).
#include "kinema/storyboard.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"

namespace kinema {
namespace {

constexpr int kTc = 4;

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void check_shot(const Shot& s, size_t i) {
  check(!trim(s.prompt).empty(), "storyboard", "shot ", i + 1, " has no prompt");
  check(s.seconds >= 0 && s.seconds <= kMaxSeconds, "storyboard", "shot ", i + 1, ": seconds must lie in [0, ",
        kMaxSeconds, "]; got ", s.seconds);
}

}  // namespace

Storyboard storyboard_from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("storyboard", "not valid JSON: ", e.what());
  }
  if (j.is_object() && j.contains("shots")) j = j["shots"];
  check(j.is_array() && !j.empty(), "storyboard",
        "expected a list of shots, e.g. [{\"prompt\": \"a red ball rolls\", \"seconds\": 2}]");
  Storyboard b;
  for (size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& s = j[i];
    check(s.is_object() || s.is_string(), "storyboard", "shot ", i + 1, " is neither an object nor a prompt string");
    Shot shot;
    if (s.is_string()) {
      shot.prompt = s.get<std::string>();
    } else {
      for (const auto& [k, v] : s.items()) {
        check(k == "prompt" || k == "seconds" || k == "camera", "storyboard", "shot ", i + 1, " has an unknown field '",
              k, "'; a shot has prompt, seconds and camera");
        check(k == "seconds" ? v.is_number() : v.is_string(), "storyboard", "shot ", i + 1, ": '", k, "' must be a ",
              k == "seconds" ? "number" : "string");
      }
      shot.prompt = s.value("prompt", std::string());
      shot.seconds = s.value("seconds", 0.0);
      shot.camera = s.value("camera", std::string());
    }
    check_shot(shot, i);
    b.shots.push_back(shot);
  }
  return b;
}

bool has_shot_markers(const std::string& prompt) { return lower(prompt).find("[shot]") != std::string::npos; }

Storyboard storyboard_from_prompt(const std::string& prompt, double total_seconds) {
  Storyboard b;
  const std::string low = lower(prompt);
  for (size_t at = 0;;) {
    const size_t next = low.find("[shot]", at);
    const std::string part = trim(prompt.substr(at, next == std::string::npos ? std::string::npos : next - at));
    if (!part.empty() || next != std::string::npos || b.shots.empty()) b.shots.push_back({part, 0, ""});
    if (next == std::string::npos) break;
    at = next + 6;
  }
  if (!b.shots.empty() && b.shots.front().prompt.empty()) b.shots.erase(b.shots.begin());  // "[shot] a ..." opens shot 1
  check(!b.shots.empty(), "storyboard", "the prompt has no shot: write \"a red ball rolls [shot] close-up of the ball\"");
  check(total_seconds >= 0 && total_seconds <= kMaxSeconds, "storyboard", "--seconds must lie in (0, ", kMaxSeconds,
        "]; got ", total_seconds);
  for (size_t i = 0; i < b.shots.size(); ++i) {
    check(!b.shots[i].prompt.empty(), "storyboard", "shot ", i + 1, " of the prompt is empty (two [shot] markers in a row?)");
    b.shots[i].seconds = total_seconds / double(b.shots.size());
  }
  return b;
}

ModeResult generate_storyboard(const Pipeline& pipe, const Storyboard& board, const GenerateRequest& base,
                               const StoryboardOptions& options, const FrameSink& sink, const ProgressFn& progress) {
  check(!board.shots.empty(), "storyboard", "no shots");
  const int R = options.reference_frames;
  check(R >= 1 && (R - 1) % kTc == 0, "storyboard", "reference_frames must be 1 + 4k; got ", R);
  const std::vector<ShotPlan> plans = plan_storyboard(pipe, board, base, options);
  const int Nc = chunk_frames(pipe, options.mode), P = 1 + kTc * options.mode.context_latents;
  ModeResult out;
  auto emit = [&](const Frame& f) { sink ? sink(f) : out.frames.push_back(f); };
  std::vector<Frame> reference = base.reference;  // a character's, else the first shot's opening frames
  for (size_t i = 0; i < plans.size(); ++i) {
    const ShotPlan& plan = plans[i];
    GenerateRequest r = base;
    r.prompt = plan.caption, r.expand = false, r.known.clear();
    r.seed = base.seed + uint64_t(i) * 0x9e3779b97f4a7c15ull;  // each shot its own noise
    r.reference = reference;
    const int lead = r.reference.empty() ? 0 : int(r.reference.size()) + kTc - 1;
    r.frames = std::min(plan.frames, std::max(Nc - lead, P));  // the shot's first clip
    if (i > 0) out.seams.push_back(out.total_frames);
    GenerateResult g = pipe.generate(r, progress);
    if (reference.empty()) {
      check(int(g.frames.size()) >= R, "storyboard", "the first shot has ", g.frames.size(), " frames; ", R,
            " are needed as the reference of the next shots");
      reference.assign(g.frames.begin(), g.frames.begin() + R);
    }
    for (const Frame& f : g.frames) emit(f);
    out.chunks += 1, out.peak_latent_frames = std::max(out.peak_latent_frames, g.peak_latent_frames);
    if (plan.frames > r.frames) {  // longer than a chunk: continue from the shot's own frames
      GenerateRequest c = r;
      c.prompt = plan.continue_caption, c.reference = base.reference;
      ModeResult m = continue_long(pipe, g.frames, c, plan.frames - r.frames, options.mode, emit, progress);
      for (int s : m.seams) out.seams.push_back(out.total_frames + r.frames + s);
      out.chunks += m.chunks, out.peak_latent_frames = std::max(out.peak_latent_frames, m.peak_latent_frames);
      g = std::move(m.last);
    }
    out.total_frames += plan.frames;
    g.frames.clear();
    out.last = std::move(g);
  }
  return out;
}

}  // namespace kinema
