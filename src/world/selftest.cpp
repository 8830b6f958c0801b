// `kinema world selftest`: the judge's measured accuracy on N rendered clips (optionally after
// CRF-28 re-encoding and/or 2x downscaling), per claim kind; exits 1 below the bars
// (true claims judged true >= 98%, differing claims judged false >= 95%).
#include <cstdio>
#include <cstring>
#include <string>

#include "kinema/error.hpp"
#include "world/judge_eval.hpp"

namespace kinema::world {

int run_selftest(int argc, char** argv) {
  JudgeEvalOptions opt;
  opt.clips = 1000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reencode") opt.reencode = true;
    else if (a == "--downscale") opt.downscale = true;
    else if (a == "--blur" && i + 1 < argc) opt.blur = std::stoi(argv[++i]);
    else if (a == "--clips" && i + 1 < argc) opt.clips = std::stoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) opt.seed = std::stoull(argv[++i]);
    else if (a == "--size" && i + 1 < argc) opt.size = std::stoi(argv[++i]);
    else fail("world selftest", "unknown option '", a, "'; expected [--clips N] [--seed N] [--size N] [--reencode] [--downscale] [--blur PASSES]");
  }
  const JudgeEval ev = evaluate_judge(opt);
  std::printf("judge selftest: %d clips at %dx%d%s%s, %d box-blur passes\n%s", opt.clips, opt.size, opt.size,
              opt.reencode ? ", H.264 CRF 28" : "", opt.downscale ? ", rendered at 2x and downscaled" : "",
              opt.blur, ev.report().c_str());
  for (const std::string& m : ev.misses) std::printf("  miss: %s\n", m.c_str());
  return ev.true_rate() >= 0.98 && ev.false_rate() >= 0.95 ? 0 : 1;
}

}  // namespace kinema::world
