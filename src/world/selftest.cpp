// `kinema world selftest`: the judge's measured accuracy on N rendered clips (optionally after
// CRF-28 re-encoding and/or 2x downscaling), per claim kind; exits 1 below the bars
// (true claims judged true >= 98%, differing claims judged false >= 95%), over all claims and
// for each kind with enough cases to show it.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "world/judge_eval.hpp"

namespace kinema::world {

namespace {
// A kind needs this many cases on a side before its own rate is held to the bar: with fewer,
// one miss alone would sink it below 95%.
constexpr int kMinCasesPerKind = 20;
constexpr const char* kUsage =
    "expected [--clips N] [--seed N] [--size N] [--negatives N] [--reencode] [--downscale] [--blur PASSES] "
    "[--kind KIND] [--dump-failures DIR] [--replay FILE]";

// Judges one case written by --dump-failures again (its "rendered" scene, prepared as the
// options say, against its "expected" one) and prints the scorecard: a miss, reproduced.
int replay(const std::string& path, const JudgeEvalOptions& opt) {
  std::ifstream f(path);
  check(bool(f), "world selftest", "cannot open ", path, "; --replay takes a .json written by --dump-failures");
  std::stringstream ss;
  ss << f.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  check(j.is_object() && j.contains("expected") && j.contains("rendered"), "world selftest", path,
        " is not a --dump-failures case; expected a JSON object with \"expected\" and \"rendered\" scenes");
  const Scene expected = scene_from_json(j["expected"].dump()), rendered = scene_from_json(j["rendered"].dump());
  const std::string tmp = "/tmp/kinema-judge-replay-" + std::to_string(getpid()) + ".mp4";
  const Scorecard card = judge(prepare_frames(rendered, opt, tmp), expected);
  if (opt.reencode) std::remove(tmp.c_str());
  for (const Claim& c : card.claims) std::printf("  %-4s %.3f  %-13s %s\n", c.pass ? "pass" : "FAIL", c.score, c.kind.c_str(), c.text.c_str());
  std::printf("%s\n", card.summary().c_str());
  return 0;
}

}  // namespace

int run_selftest(int argc, char** argv) {
  JudgeEvalOptions opt;
  opt.clips = 1000;
  std::string replay_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--reencode") opt.reencode = true;
    else if (a == "--downscale") opt.downscale = true;
    else if (a == "--blur" && has_value) opt.blur = std::stoi(argv[++i]);
    else if (a == "--clips" && has_value) opt.clips = std::stoi(argv[++i]);
    else if (a == "--seed" && has_value) opt.seed = std::stoull(argv[++i]);
    else if (a == "--size" && has_value) opt.size = std::stoi(argv[++i]);
    else if (a == "--negatives" && has_value) opt.negatives = std::stoi(argv[++i]);
    else if (a == "--kind" && has_value) opt.kind = argv[++i];
    else if (a == "--dump-failures" && has_value) opt.dump_dir = argv[++i];
    else if (a == "--replay" && has_value) replay_path = argv[++i];
    else fail("world selftest", "unknown option or missing value '", a, "'; ", kUsage);
  }
  check(opt.clips > 0 && opt.size >= 16 && opt.negatives >= 0, "world selftest",
        "--clips must be > 0, --size >= 16 and --negatives >= 0; got ", opt.clips, ", ", opt.size, ", ", opt.negatives);
  if (!replay_path.empty()) return replay(replay_path, opt);
  const JudgeEval ev = evaluate_judge(opt);
  std::printf("judge selftest: %d clips at %dx%d%s%s, %d box-blur passes", ev.clips, opt.size, opt.size,
              opt.reencode ? ", H.264 CRF 28" : "", opt.downscale ? ", rendered at 2x and downscaled" : "", opt.blur);
  if (!opt.kind.empty()) std::printf(", targeted at %s (%ld scenes sampled)", opt.kind.c_str(), ev.sampled);
  std::printf("\n%s", ev.report().c_str());
  for (const std::string& m : ev.misses) std::printf("  miss: %s\n", m.c_str());
  const std::vector<std::string> below = ev.kinds_below(0.98, 0.95, kMinCasesPerKind);
  for (const std::string& b : below) std::printf("  below the bar: %s\n", b.c_str());
  if (!opt.dump_dir.empty() && !ev.misses.empty()) std::printf("  misses written to %s\n", opt.dump_dir.c_str());
  return ev.true_rate() >= 0.98 && ev.false_rate() >= 0.95 && below.empty() ? 0 : 1;
}

}  // namespace kinema::world
