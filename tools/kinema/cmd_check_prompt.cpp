// `kinema check-prompt "PROMPT" [--policy FILE]`: runs the prompt policy (issue 9) and explains
// the decision. Exit 0: allowed; 5: refused (the status `kinema generate` uses for a refusal).
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/safety.hpp"
#include "option_table.hpp"

namespace kinema::cli {
namespace {

struct CheckPromptCli {
  std::string policy;
  bool quiet = false;
};

const std::vector<Option<CheckPromptCli>>& options() {
  static const std::vector<Option<CheckPromptCli>> table = {
      {"--policy", "FILE", "operator policy (JSON): categories on/off, thresholds, extra block/allow terms",
       KINEMA_OPT_STRING(policy)},
      {"--quiet", "", "print nothing; the exit status says it (0 allowed, 5 refused)", KINEMA_OPT_FLAG(quiet)},
  };
  return table;
}

}  // namespace

int cmd_check_prompt(int argc, char** argv) {
  CheckPromptCli c;
  SplitArguments args = split_arguments(options(), argc, argv, 1);  // the prompt
  const bool have_prompt = !args.positionals.empty();
  const std::string prompt = have_prompt ? args.positionals[0] : "";
  std::vector<char*>& rest = args.options;
  if (!parse_options(options(), int(rest.size()), rest.data(), c, "check-prompt")) {
    std::printf(
        "usage: kinema check-prompt \"PROMPT\" [--policy FILE]\n\n"
        "Checks a prompt against kinema's prompt policy (sexual content, minors, graphic violence, hate,\n"
        "self-harm, public figures, copyrighted characters and brands) and says why. Exit 0: allowed;\n"
        "5: refused. docs/safety.md describes the policy file.\n\n");
    print_options(options());
    return 0;
  }
  check(have_prompt, "check-prompt", "give a prompt: kinema check-prompt \"a red circle moves right\"");
  const PromptPolicy policy = c.policy.empty() ? PromptPolicy::load_default() : PromptPolicy::from_file(c.policy);
  const PolicyDecision d = policy.check(prompt);
  if (!c.quiet) {
    if (d.allowed) {
      std::printf("allowed: %s\n", d.explanation.c_str());
    } else {
      std::printf("refused: %s\n  rule: %s\n  matched: %s\n  score: %.3f\n  why: %s\n", d.category.c_str(),
                  d.rule.c_str(), d.matched.c_str(), d.score, d.explanation.c_str());
    }
    std::printf("normalised: %s\n", normalize_prompt(prompt).text().c_str());
  }
  return d.allowed ? 0 : kRefusedExit;
}

}  // namespace kinema::cli
