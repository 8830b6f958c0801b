// kinema_safety_train: reproduces models/safety/prompt_classifier.bin from data/safety/prompts.txt
// and prints the held-out confusion matrix that docs/safety.md quotes.
//   build/bin/kinema_safety_train [--out FILE] [--templates FILE] [--seed N]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "kinema/error.hpp"
#include "kinema/safety.hpp"

int main(int argc, char** argv) {
  using namespace kinema;
  std::string root = KINEMA_SOURCE_DIR;
  std::string out = root + "/models/safety/prompt_classifier.bin", templates = root + "/data/safety/prompts.txt";
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--out") out = argv[i + 1];
    else if (a == "--templates") templates = argv[i + 1];
    else if (a == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else return std::fprintf(stderr, "unknown option %s\n", a.c_str()), 2;
  }
  try {
    CorpusOptions co;
    co.seed = seed;
    co.per_template = 80;
    const auto train = generate_prompt_corpus(templates, co);
    ClassifierTrainOptions to;
    to.seed = seed;
    train_prompt_classifier(train, to, out);
    std::printf("trained on %zu prompts -> %s\n", train.size(), out.c_str());

    setenv("KINEMA_SAFETY_MODEL", out.c_str(), 1);
    const PromptPolicy policy = PromptPolicy::load_default();
    CorpusOptions ho;
    ho.split = CorpusSplit::heldout;
    ho.per_template = 45;
    ho.seed = 1;  // the held-out set of tests/safety
    const auto held = generate_prompt_corpus(templates, ho);
    // Rows: true label; columns: allowed or the refusing category.
    std::map<std::string, std::map<std::string, int>> m;
    int viol = 0, blocked = 0, benign = 0, fp = 0, obf = 0, obf_ok = 0;
    for (const LabelledPrompt& p : held) {
      const PolicyDecision d = policy.check(p.text);
      m[category_name(p.label)][d.allowed ? "allowed" : d.category]++;
      const bool bad = p.label != SafetyCategory::benign;
      viol += bad, benign += !bad;
      blocked += bad && !d.allowed, fp += !bad && !d.allowed;
      obf += p.obfuscated, obf_ok += p.obfuscated && (d.allowed != bad);
      if (std::getenv("KINEMA_SAFETY_VERBOSE") && d.allowed == bad)
        std::printf("MISS [%s -> %s] %s\n", category_name(p.label), d.allowed ? "allowed" : d.category.c_str(),
                    p.text.c_str());
    }
    const char* cols[] = {"allowed", "sexual", "violence", "hate", "self_harm", "public_figure", "copyright",
                          "sexual_minors"};
    std::printf("\nheld-out: %zu prompts (%d violating, %d benign, %d obfuscated)\n\n| true \\ decision |", held.size(),
                viol, benign, obf);
    for (const char* c : cols) std::printf(" %s |", c);
    std::printf("\n|---|");
    for (size_t k = 0; k < std::size(cols); ++k) std::printf("---|");
    std::printf("\n");
    for (int r = 0; r < kSafetyCategories; ++r) {
      const std::string row = category_name(SafetyCategory(r));
      std::printf("| %s |", row.c_str());
      for (const char* c : cols) std::printf(" %d |", m[row][c]);
      std::printf("\n");
    }
    std::printf("\nblock rate %.2f%% (%d/%d), false positives %.2f%% (%d/%d), obfuscated correct %.2f%% (%d/%d)\n",
                100.0 * blocked / viol, blocked, viol, 100.0 * fp / benign, fp, benign, 100.0 * obf_ok / obf, obf_ok,
                obf);
  } catch (const Error& e) {
    std::fprintf(stderr, "kinema_safety_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
