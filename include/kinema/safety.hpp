// Prompt policy: decides whether kinema may turn a prompt into a video (issue 9).
//
// Two layers read a normalised prompt (case, leetspeak, homoglyphs, fullwidth forms, zero-width
// characters, "n u d e" spacing, "s.e.x" punctuation and "nuuude" repeats undone):
//  1. lexicons: the pinned npm word lists naughty-words and cuss plus kinema's curated lists
//     (data/safety), compiled into the library at build time; benign phrases ("killer whale",
//     "breast stroke") are masked first, and ambiguous words ("shoot", "blood") never refuse alone;
//  2. a small classifier trained by kinema (hashed word and character n-grams, softmax regression;
//     models/safety/prompt_classifier.bin) that catches paraphrases without listed words.
// Sexual content involving minors is refused whatever an operator policy says.
// An operator policy file (JSON, see docs/safety.md) enables or disables categories, sets their
// classifier thresholds and adds block/allow terms.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kinema {

// The policy's categories, in the order of the classifier's outputs (benign is output 0).
enum class SafetyCategory : int { benign, sexual, violence, hate, self_harm, public_figure, copyright, sexual_minors };
inline constexpr int kSafetyClasses = 7;  // classifier outputs: benign + the six operator categories
inline constexpr int kSafetyCategories = 8;
const char* category_name(SafetyCategory c);
// Throws Error naming the valid names when s is not one.
SafetyCategory category_from_name(std::string_view s);

struct PolicyDecision {
  bool allowed = true;
  std::string category;  // "" when allowed, else a category name ("violence", "sexual_minors", ...)
  std::string rule;      // which rule decided: "lexicon naughty-words", "classifier", "minors", ...
  std::string matched;   // the term or the features that decided, as found in the normalised prompt
  double score = 0;      // the classifier's probability for `category` (or the highest one when allowed)
  std::string explanation;  // one or two sentences for a person
};

// The normalised form of a prompt, as both layers see it.
struct NormalizedPrompt {
  std::vector<std::string> tokens;  // lower-case ASCII words, obfuscation undone
  std::string text() const;         // tokens joined by single spaces
};
// Never throws and never crashes, whatever the bytes (invalid UTF-8 is skipped).
NormalizedPrompt normalize_prompt(std::string_view prompt);

struct CategoryPolicy {
  bool enabled = true;
  double threshold = 0.5;  // the classifier refuses when P(category) >= threshold
};

// Frame review (docs/safety-frames.md): every review_stride-th frame (and the first) is
// classified; P(porn) + P(hentai) >= explicit_threshold or P(sexy) >= suggestive_threshold
// refuses the output.
struct FramePolicy {
  bool enabled = true;
  double explicit_threshold = 0.7, suggestive_threshold = 0.9;
  int review_stride = 4;
};

struct PolicyConfig {
  // Indexed by SafetyCategory; benign's and sexual_minors' entries are ignored (minors always refuse).
  std::array<CategoryPolicy, kSafetyCategories> categories{};
  std::vector<std::pair<std::string, SafetyCategory>> block_terms;  // operator's extra terms
  std::vector<std::string> allow_terms;                             // masked before both layers
  bool classifier = true;                                           // layer 2 on or off
  FramePolicy frames;                                               // the image classifier's limits
};

class PromptClassifier;

class PromptPolicy {
 public:
  // Built-in lexicons, the shipped classifier (models/safety, or $KINEMA_SAFETY_MODEL) and the
  // default config. Throws Error when the classifier file is missing or malformed.
  static PromptPolicy load_default();
  // The default policy changed by an operator policy file; throws Error naming the file and field.
  static PromptPolicy from_file(const std::string& path);
  // Same, from JSON text; `source` names it in errors.
  static PromptPolicy from_json(std::string_view json, const std::string& source = "policy");
  // A policy without the classifier (layer 1 only), e.g. while training it.
  static PromptPolicy lexicon_only(const PolicyConfig& config = {});

  PolicyDecision check(const std::string& prompt) const;
  // The classifier's probabilities (benign first), or all zero without a classifier.
  std::array<double, kSafetyClasses> scores(const NormalizedPrompt& p) const;
  const PolicyConfig& config() const { return config_; }

  PromptPolicy(const PromptPolicy&);
  PromptPolicy& operator=(const PromptPolicy&);
  PromptPolicy(PromptPolicy&&) noexcept;
  PromptPolicy& operator=(PromptPolicy&&) noexcept;
  ~PromptPolicy();

 private:
  PromptPolicy();
  static PromptPolicy from_config(PolicyConfig config);
  PolicyConfig config_;
  std::vector<PromptClassifier> classifier_;  // zero or one
};

// Parses an operator policy (JSON); throws Error "[where] field: what is wrong" on any unknown
// key, bad type or out-of-range value.
PolicyConfig parse_policy_json(std::string_view json, const std::string& source);
// The same from a file (at most 1 MiB); "" gives the default config.
PolicyConfig read_policy_file(const std::string& path);

// Labelled prompts for training and measuring the classifier, generated from data/safety/prompts.txt.
struct LabelledPrompt {
  std::string text;
  SafetyCategory label;
  bool obfuscated = false;
};
enum class CorpusSplit { train, heldout };
struct CorpusOptions {
  CorpusSplit split = CorpusSplit::train;
  int per_template = 40;   // prompts drawn from each template
  double obfuscate = 0.3;  // fraction of prompts with an obfuscated key word
  uint64_t seed = 1;
};
std::vector<LabelledPrompt> generate_prompt_corpus(const std::string& templates_path, const CorpusOptions& o);

struct ClassifierTrainOptions {
  int epochs = 12;
  double learning_rate = 0.5;  // AdaGrad
  double l2 = 1e-5;
  uint64_t seed = 1;
};
// Trains the layer-2 classifier on a corpus and writes it to `out` (the file load_default reads).
void train_prompt_classifier(const std::vector<LabelledPrompt>& corpus, const ClassifierTrainOptions& o,
                             const std::string& out);

}  // namespace kinema
