// The judge: scores each claim of an expected Scene against frames. The expected scene is
// simulated and rendered at the observed size and frame count, and the same detector runs on
// both, so every claim compares like with like: an observed track (detections of the claimed
// colour nearest the expected place) against the reference track, with tolerances wide
// enough for blur, compression and a generator's imprecision, narrow enough to tell sizes,
// directions and shapes apart.
#include <algorithm>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "world/detect.hpp"
#include "world/internal.hpp"
#include "world/scene_facts.hpp"
#include "world/track.hpp"

namespace kinema::world {

std::string claim_key(const Claim& c) {
  std::string text = c.text;
  if (!text.empty() && text.back() == ')') {
    const size_t open = text.rfind(" (");
    if (open != std::string::npos) text.resize(open);
  }
  return c.kind + "\n" + text;
}

double Scorecard::overall() const {
  if (claims.empty()) return 0;
  int pass = 0;
  for (const Claim& c : claims) pass += c.pass;
  return double(pass) / claims.size();
}

std::string Scorecard::summary() const {
  int pass = 0;
  std::string failed;
  for (const Claim& c : claims) {
    pass += c.pass;
    if (!c.pass) failed += (failed.empty() ? "" : "; ") + c.text;
  }
  std::ostringstream os;
  os << pass << "/" << claims.size() << " claims hold (" << int(overall() * 100 + 0.5) << "%)";
  if (!failed.empty()) os << "; failed: " << failed;
  return os.str();
}

std::string Scorecard::json() const {
  nlohmann::json j = nlohmann::json::array();
  for (const Claim& c : claims) j.push_back({{"kind", c.kind}, {"claim", c.text}, {"score", c.score}, {"pass", c.pass}});
  return nlohmann::json{{"overall", overall()}, {"summary", summary()}, {"claims", j}}.dump(2);
}

Scorecard judge(const std::vector<Image>& frames, const Scene& expected) {
  check(!frames.empty(), "world.judge", "no frames to judge");
  const int W = frames[0].width, H = frames[0].height;
  for (const Image& f : frames)
    check(f.width == W && f.height == H && f.rgb.size() == size_t(W) * H * 3, "world.judge",
          "frames differ in size; got ", f.width, "x", f.height, ", expected ", W, "x", H);
  Scene ref = expected;
  ref.width = W;
  ref.height = H;
  if (int(frames.size()) != expected.frames) {
    // Same duration, observed frame count.
    const double T = clip_seconds(expected);
    ref.frames = int(frames.size());
    ref.fps = std::max(1, int(std::lround(ref.frames / T)));
  }
  validate(ref);
  const SceneFacts facts = scene_facts(ref);
  Observations obs = observe(frames, ref, facts);
  Scorecard card;
  add_object_claims(ref, facts, obs, card);
  add_scene_claims(ref, facts, obs, frames, card);
  add_clutter_claim(ref, frames, obs, card);
  return card;
}

}  // namespace kinema::world
