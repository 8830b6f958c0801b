// Judge accuracy measurement (see judge_eval.hpp).
#include "world/judge_eval.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "world/internal.hpp"

namespace kinema::world {
namespace {

// 3x3 box blur (edges clamp): stands in for a generator's soft output.
Image box_blur3(const Image& in) {
  Image out = in;
  const int W = in.width, H = in.height;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c) {
        int acc = 0;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int xx = std::clamp(x + dx, 0, W - 1), yy = std::clamp(y + dy, 0, H - 1);
            acc += in.rgb[(size_t(yy) * W + xx) * 3 + c];
          }
        out.rgb[(size_t(y) * W + x) * 3 + c] = uint8_t((acc + 4) / 9);
      }
  return out;
}

// The perturbation judged for clip `seed`: any kind, or (targeted runs) one of `only`, for which
// a few object draws are tried, since each perturbation picks its object at random.
bool find_perturbation(const Scene& s, uint64_t seed, const std::string& only, Scene& other, std::string& kind,
                       std::string& needle) {
  if (only.empty()) return perturb(s, seed, other, kind, needle);
  for (int draw = 0; draw < 8; ++draw)
    if (perturb(s, mix_seed(seed, uint64_t(draw)), other, kind, needle, only)) return true;
  return false;
}

void note_miss(JudgeEval& ev, uint64_t seed, const std::string& what) {
  if (ev.misses.size() < 40) ev.misses.push_back("seed " + std::to_string(seed) + " " + what);
}

// One miss, for debugging: the spec the claim came from, the spec that was rendered (the same
// one for a true claim), the claim, the whole scorecard, and the frames the judge saw.
void dump_case(const std::string& dir, const std::string& stem, const Scene& expected, const Scene& rendered,
               const Claim& claim, const Scorecard& card, const std::vector<Image>& frames) {
  const nlohmann::json j = {{"claim", {{"kind", claim.kind}, {"text", claim.text}, {"score", claim.score}}},
                            {"expected", nlohmann::json::parse(to_json(expected))},
                            {"rendered", nlohmann::json::parse(to_json(rendered))},
                            {"scorecard", nlohmann::json::parse(card.json())}};
  const std::string base = (std::filesystem::path(dir) / stem).string();
  std::ofstream f(base + ".json");
  check(bool(f), "world.selftest", "cannot write ", base, ".json; is --dump-failures a writable directory?");
  f << j.dump(2) << "\n";
  write_png_strip(base + ".png", frames);
}

}  // namespace

std::vector<Image> prepare_frames(const Scene& s, const JudgeEvalOptions& opt, const std::string& tmp) {
  Scene r = s;
  if (opt.downscale) r.width *= 2, r.height *= 2;
  std::vector<Image> frames = render(r);
  if (opt.downscale)
    for (Image& f : frames) f = downscale(f, 2);
  for (int pass = 0; pass < opt.blur; ++pass)
    for (Image& f : frames) f = box_blur3(f);
  if (opt.reencode) {
    write_video_ffmpeg(tmp, frames, s.fps, 28);
    frames = read_video_ffmpeg(tmp, s.width, s.height);
  }
  return frames;
}

double JudgeEval::true_rate() const {
  int t = 0, p = 0;
  for (const auto& [k, v] : kinds) t += v.true_total, p += v.true_pass;
  return t ? double(p) / t : 0;
}

double JudgeEval::false_rate() const {
  int t = 0, p = 0;
  for (const auto& [k, v] : kinds) t += v.false_total, p += v.false_caught;
  return t ? double(p) / t : 0;
}

std::vector<std::string> JudgeEval::kinds_below(double min_true, double min_false, int min_cases) const {
  std::vector<std::string> out;
  char line[160];
  for (const auto& [k, v] : kinds) {
    if (v.true_total >= min_cases && v.true_pass < min_true * v.true_total) {
      std::snprintf(line, sizeof line, "%s: true %d/%d (%.1f%%)", k.c_str(), v.true_pass, v.true_total, 100.0 * v.true_pass / v.true_total);
      out.push_back(line);
    }
    if (v.false_total >= min_cases && v.false_caught < min_false * v.false_total) {
      std::snprintf(line, sizeof line, "%s: false %d/%d (%.1f%%)", k.c_str(), v.false_caught, v.false_total,
                    100.0 * v.false_caught / v.false_total);
      out.push_back(line);
    }
  }
  return out;
}

std::string JudgeEval::report() const {
  std::ostringstream os;
  char line[200];
  for (const auto& [k, v] : kinds) {
    std::snprintf(line, sizeof line, "  %-13s true claims judged true %5d/%-5d (%5.1f%%)   false claims judged false %4d/%-4d (%5.1f%%)\n",
                  k.c_str(), v.true_pass, v.true_total, v.true_total ? 100.0 * v.true_pass / v.true_total : 100.0,
                  v.false_caught, v.false_total, v.false_total ? 100.0 * v.false_caught / v.false_total : 100.0);
    os << line;
  }
  std::snprintf(line, sizeof line, "  all           true %.2f%%   false %.2f%%\n", 100 * true_rate(), 100 * false_rate());
  os << line;
  return os.str();
}

JudgeEval evaluate_judge(const JudgeEvalOptions& opt) {
  if (!opt.kind.empty() && !is_claim_kind(opt.kind)) {
    std::string kinds;
    for (const std::string& k : claim_kinds()) kinds += (kinds.empty() ? "" : ", ") + k;
    fail("world.selftest", "unknown claim kind '", opt.kind, "'; expected one of ", kinds);
  }
  JudgeEval ev;
  const std::string tmp = "/tmp/kinema-judge-" + std::to_string(getpid()) + ".mp4";
  if (!opt.dump_dir.empty()) std::filesystem::create_directories(opt.dump_dir);
  SampleOptions so{opt.size, opt.size, opt.fps, opt.frames};
  // A targeted run samples until `clips` scenes have the kind; the bound only stops a kind the
  // sampler never produces at this clip length from looping forever.
  const long max_sampled = opt.kind.empty() ? opt.clips : 2000L * std::max(1, opt.clips);
  for (long c = 0; ev.clips < opt.clips; ++c) {
    check(c < max_sampled, "world.selftest", "no sampled scene has a claim of kind '", opt.kind, "' after ", c,
          " scenes; try more --frames or another kind");
    const uint64_t seed = mix_seed(opt.seed, uint64_t(c));
    const Scene s = sample_scene(seed, so);
    ++ev.sampled;
    Scene probe;
    std::string probe_kind, probe_needle;
    if (!opt.kind.empty() && !find_perturbation(s, mix_seed(seed, 77), opt.kind, probe, probe_kind, probe_needle)) continue;
    ++ev.clips;
    const std::vector<Image> frames = prepare_frames(s, opt, tmp);
    const Scorecard card = judge(frames, s);
    for (const Claim& cl : card.claims) {
      KindStats& k = ev.kinds[cl.kind];
      ++k.true_total;
      k.true_pass += cl.pass;
      if (cl.pass) continue;
      note_miss(ev, seed, "true claim judged false: " + cl.text);
      if (!opt.dump_dir.empty())
        dump_case(opt.dump_dir, std::to_string(seed) + "-true-" + cl.kind, s, s, cl, card, frames);
    }
    std::vector<std::string> judged;  // perturbed specs already judged for this clip
    for (int rep = 0; rep < opt.negatives; ++rep) {
      Scene other;
      std::string kind, needle;
      if (!find_perturbation(s, mix_seed(seed, 77 + rep), opt.kind, other, kind, needle)) continue;
      // The same change twice (a kind with one way to perturb it) would count one case twice.
      const std::string spec = to_json(other);
      if (std::find(judged.begin(), judged.end(), spec) != judged.end()) continue;
      judged.push_back(spec);
      const std::vector<Image> neg_frames = prepare_frames(other, opt, tmp);
      const Scorecard neg = judge(neg_frames, s);
      for (const Claim& cl : neg.claims) {
        if (cl.kind != kind || cl.text.find(needle) == std::string::npos) continue;
        KindStats& k = ev.kinds[cl.kind];
        ++k.false_total;
        k.false_caught += !cl.pass;
        if (!cl.pass) continue;
        note_miss(ev, seed, "false claim judged true: " + cl.text);
        if (!opt.dump_dir.empty())
          dump_case(opt.dump_dir, std::to_string(seed) + "-false-" + cl.kind + "-" + std::to_string(rep), s, other, cl, neg,
                    neg_frames);
      }
    }
  }
  if (opt.reencode) std::remove(tmp.c_str());
  return ev;
}

}  // namespace kinema::world
