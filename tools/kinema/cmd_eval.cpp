// `kinema eval VIDEO --prompt "..." | --spec FILE`: the world judge's scorecard for a video.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/media.hpp"
#include "kinema/world.hpp"

namespace kinema::cli {

int cmd_eval(int argc, char** argv) {
  const char* usage =
      "usage: kinema eval VIDEO (--prompt \"...\" | --spec FILE) [--seed N] [--json]\n"
      "  scores each claim of the prompt (expanded with --seed, default 0) or spec against the video\n";
  std::string video, prompt, spec_path;
  uint64_t seed = 0;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") { std::printf("%s", usage); return 0; }
    if (a == "--prompt" && i + 1 < argc) prompt = argv[++i];
    else if (a == "--spec" && i + 1 < argc) spec_path = argv[++i];
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--json") json = true;
    else if (a[0] != '-' && video.empty()) video = a;
    else kinema::fail("eval", "unknown option '", a, "'\n", usage);
  }
  kinema::check(!video.empty() && (prompt.empty() != spec_path.empty()), "eval", "give a video and one of --prompt or --spec\n", usage);
  std::vector<world::Image> frames;
  for (kinema::Frame& f : kinema::read_video(video)) frames.push_back({f.width, f.height, std::move(f.rgb)});
  kinema::check(!frames.empty(), "eval", "no frames in ", video);
  world::Scene expected;
  std::vector<std::string> unspecified;
  if (!spec_path.empty()) {
    std::ifstream f(spec_path);
    kinema::check(bool(f), "eval", "cannot open ", spec_path);
    std::stringstream ss;
    ss << f.rdbuf();
    expected = world::scene_from_json(ss.str());
  } else {
    world::SampleOptions opt;
    opt.width = frames[0].width;
    opt.height = frames[0].height;
    opt.frames = int(frames.size());
    const world::Expansion e = world::expand(prompt, seed, opt);
    for (const std::string& m : e.mapped) std::fprintf(stderr, "mapped: %s\n", m.c_str());
    for (const std::string& m : e.not_understood) std::fprintf(stderr, "not understood: %s\n", m.c_str());
    kinema::check(e.understood, "eval", "the prompt names no object the judge knows; got \"", prompt, "\"");
    expected = e.scene;
    unspecified = e.unspecified;
  }
  world::Scorecard card = world::judge(frames, expected);
  // A prompt's claims are only what it said; sampled details (positions, unstated sizes, ...) are not judged.
  std::erase_if(card.claims, [&](const world::Claim& c) {
    for (const std::string& k : unspecified) if (c.kind == k) return true;
    return false;
  });
  if (json) std::printf("%s\n", card.json().c_str());
  else for (const world::Claim& c : card.claims) std::printf("%s %-12s %.2f  %s\n", c.pass ? "PASS" : "FAIL", c.kind.c_str(), c.score, c.text.c_str());
  std::printf("%s\n", card.summary().c_str());
  return card.overall() >= 0.5 ? 0 : 3;
}

}  // namespace kinema::cli
