// Storyboard parsing: a JSON list of shots or [shot] markers in a prompt, and the frames each shot
// gets. Its own small library (kinema_storyboard) so that `kinema serve` checks a request's
// storyboard and reports its length with the rules the pipeline uses, without linking the model.
#include <algorithm>
#include <cctype>
#include <cmath>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "kinema/storyboard.hpp"

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

int shot_frames(const Shot& shot, int fps, int default_frames) {
  return shot.seconds > 0 ? 1 + kTc * std::max(1, int(std::lround(shot.seconds * fps / kTc))) : default_frames;
}

int storyboard_frames(const Storyboard& board, int fps, int default_frames) {
  int total = 0;
  for (const Shot& s : board.shots) total += shot_frames(s, fps, default_frames);
  return total;
}

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

}  // namespace kinema
