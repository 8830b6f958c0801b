// PromptPolicy: the two layers, the minors rule and the operator's policy file.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kinema/error.hpp"
#include "safety_internal.hpp"

namespace kinema {
namespace {

constexpr const char* kNames[kSafetyCategories] = {"benign",    "sexual",        "violence",  "hate",
                                                   "self_harm", "public_figure", "copyright", "sexual_minors"};

std::string default_model_path() {
  if (const char* e = std::getenv("KINEMA_SAFETY_MODEL")) return e;
  return KINEMA_SAFETY_MODEL_DEFAULT;
}

std::string join(const std::vector<std::string>& t, size_t b, size_t n) {
  std::string s;
  for (size_t k = b; k < b + n && k < t.size(); ++k) s += (s.empty() ? "" : " ") + t[k];
  return s;
}

// Marks the tokens covered by allow phrases (built-in and the operator's).
std::vector<bool> allow_mask(const std::vector<std::string>& tokens, const safety::Lexicon& extra) {
  std::vector<bool> none(tokens.size(), false), masked(tokens.size(), false);
  for (const safety::Lexicon* lex : std::initializer_list<const safety::Lexicon*>{&safety::builtin_lexicon(), &extra})
    for (const safety::LexHit& h : lex->find(tokens, none))
      if (h.entry->strength == safety::Strength::allow)
        for (size_t k = 0; k < h.len; ++k) masked[h.start + k] = true;
  return masked;
}

}  // namespace

const char* category_name(SafetyCategory c) { return kNames[int(c)]; }

SafetyCategory category_from_name(std::string_view s) {
  for (int i = 0; i < kSafetyCategories; ++i)
    if (s == kNames[i]) return SafetyCategory(i);
  fail("safety", "unknown category '", s,
       "'; expected sexual, violence, hate, self_harm, public_figure, copyright or sexual_minors");
}

PromptPolicy::PromptPolicy() = default;
PromptPolicy::PromptPolicy(const PromptPolicy&) = default;
PromptPolicy& PromptPolicy::operator=(const PromptPolicy&) = default;
PromptPolicy::PromptPolicy(PromptPolicy&&) noexcept = default;
PromptPolicy& PromptPolicy::operator=(PromptPolicy&&) noexcept = default;
PromptPolicy::~PromptPolicy() = default;

PromptPolicy PromptPolicy::lexicon_only(const PolicyConfig& config) {
  PromptPolicy p;
  p.config_ = config;
  p.config_.classifier = false;
  return p;
}

PromptPolicy PromptPolicy::load_default() {
  PromptPolicy p;
  p.classifier_.push_back(PromptClassifier::load(default_model_path()));
  return p;
}

PromptPolicy PromptPolicy::from_config(PolicyConfig config) {
  PromptPolicy p = config.classifier ? load_default() : PromptPolicy();
  p.config_ = std::move(config);
  return p;
}

PromptPolicy PromptPolicy::from_json(std::string_view json, const std::string& source) {
  return from_config(parse_policy_json(json, source));
}

PromptPolicy PromptPolicy::from_file(const std::string& path) { return from_config(read_policy_file(path)); }

PolicyConfig read_policy_file(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  kinema::check(bool(in), "policy", "cannot open policy file '", path, "'");
  std::string text(1 << 20, '\0');
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  kinema::check(in.eof(), "policy", "'", path, "' is larger than 1 MiB; a policy file is a few lines of JSON");
  return parse_policy_json(text, path);
}

std::array<double, kSafetyClasses> PromptPolicy::scores(const NormalizedPrompt& p) const {
  if (classifier_.empty() || !config_.classifier) return {};
  const std::vector<std::string> t = safety::classifier_tokens(p.tokens, nullptr);
  return classifier_[0].predict(safety::featurize(t, safety::builtin_lexicon().find(t, std::vector<bool>(t.size(), false)), false));
}

PolicyDecision PromptPolicy::check(const std::string& prompt) const {
  const NormalizedPrompt n = normalize_prompt(prompt);
  safety::Lexicon extra;  // the operator's terms, normalised like the prompt
  for (const auto& [term, cat] : config_.block_terms)
    extra.add({normalize_prompt(term).tokens, cat, safety::Strength::block, "policy block_terms", term});
  for (const std::string& term : config_.allow_terms)
    extra.add({normalize_prompt(term).tokens, SafetyCategory::benign, safety::Strength::allow, "policy allow_terms", term});

  const std::vector<bool> unmasked(n.tokens.size(), false);
  const auto raw_hits = safety::builtin_lexicon().find(n.tokens, unmasked);
  std::array<double, kSafetyClasses> p{};
  safety::Features feats;
  if (!classifier_.empty() && config_.classifier) {
    // Built-in allow phrases only here: the minors rule below must not depend on operator terms.
    const std::vector<std::string> t = safety::classifier_tokens(n.tokens, nullptr);
    feats = safety::featurize(t, safety::builtin_lexicon().find(t, std::vector<bool>(t.size(), false)), true);
    p = classifier_[0].predict(feats);
  }
  PolicyDecision d;
  const auto refuse = [&](SafetyCategory c, std::string rule, std::string matched, std::string why) {
    d.allowed = false;
    d.category = category_name(c);
    d.rule = std::move(rule);
    d.matched = std::move(matched);
    d.score = c == SafetyCategory::sexual_minors ? p[size_t(SafetyCategory::sexual)] : p[size_t(c)];
    d.explanation = std::move(why);
    return d;
  };

  // The minors rule reads the prompt before any allow term and ignores the operator's switches.
  std::string minor, sexual;
  for (const safety::LexHit& h : raw_hits) {
    if (h.entry->strength == safety::Strength::minor && minor.empty()) minor = join(n.tokens, h.start, h.len);
    if (h.entry->strength == safety::Strength::block &&
        (h.entry->category == SafetyCategory::sexual || h.entry->category == SafetyCategory::sexual_minors) &&
        sexual.empty())
      sexual = join(n.tokens, h.start, h.len);
    if (h.entry->strength == safety::Strength::block && h.entry->category == SafetyCategory::sexual_minors)
      return refuse(SafetyCategory::sexual_minors, "minors (lexicon " + h.entry->source + ")", join(n.tokens, h.start, h.len),
                    "sexual content involving minors is refused under every policy");
  }
  const bool sexual_by_model = p[size_t(SafetyCategory::sexual)] >= 0.5;
  if (!minor.empty() && (!sexual.empty() || sexual_by_model))
    return refuse(SafetyCategory::sexual_minors, "minors", minor + " + " + (sexual.empty() ? "classifier" : sexual),
                  "the prompt pairs a minor ('" + minor + "') with sexual content; refused under every policy");

  // Layer 1: lexicons over the prompt with allow phrases masked.
  const std::vector<bool> masked = allow_mask(n.tokens, extra);
  for (const safety::Lexicon* lex : std::initializer_list<const safety::Lexicon*>{&extra, &safety::builtin_lexicon()})
    for (const safety::LexHit& h : lex->find(n.tokens, masked)) {
      if (h.entry->strength != safety::Strength::block) continue;
      if (!config_.categories[size_t(h.entry->category)].enabled) continue;
      const std::string m = join(n.tokens, h.start, h.len);
      return refuse(h.entry->category, "lexicon " + h.entry->source, m,
                    "'" + m + "' is listed as " + category_name(h.entry->category) + " ('" + h.entry->term + "' in " +
                        h.entry->source + ")");
    }

  // Layer 2: the classifier, on the prompt without the operator's allow terms.
  if (!classifier_.empty() && config_.classifier) {
    if (!config_.allow_terms.empty()) {
      const std::vector<std::string> t = safety::classifier_tokens(n.tokens, &extra);
      feats = safety::featurize(t, safety::builtin_lexicon().find(t, std::vector<bool>(t.size(), false)), true);
      p = classifier_[0].predict(feats);
    }
    int best = -1;
    for (int c = 1; c < kSafetyClasses; ++c) {
      const CategoryPolicy& cp = config_.categories[size_t(c)];
      if (cp.enabled && p[size_t(c)] >= cp.threshold && (best < 0 || p[size_t(c)] > p[size_t(best)])) best = c;
    }
    if (best > 0) {
      // The word-level features that pushed hardest towards the category, for the explanation.
      std::vector<std::pair<float, std::string>> top;
      for (size_t k = 0; k < feats.index.size(); ++k)
        if ((feats.names[k].rfind("w:", 0) == 0 && feats.names[k].size() > 6) || feats.names[k].rfind("b:", 0) == 0)
          top.emplace_back(classifier_[0].weight(feats.index[k], best) - classifier_[0].weight(feats.index[k], 0),
                           feats.names[k].substr(2));
      std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      std::string m;
      for (size_t k = 0; k < top.size() && k < 3; ++k) m += (k ? ", " : "") + top[k].second;
      std::ostringstream why;
      why.precision(3);
      why << "the classifier reads it as " << category_name(SafetyCategory(best)) << " (p = " << p[size_t(best)]
          << " >= threshold " << config_.categories[size_t(best)].threshold << "), mostly from: " << m;
      return refuse(SafetyCategory(best), "classifier", m, why.str());
    }
  }
  d.allowed = true;
  d.rule = "none";
  d.score = 0;
  std::string off;
  for (int c = 1; c < kSafetyClasses; ++c) {
    if (config_.categories[size_t(c)].enabled) d.score = std::max(d.score, p[size_t(c)]);
    else off += std::string(off.empty() ? "" : ", ") + category_name(SafetyCategory(c));
  }
  std::ostringstream why;
  why.precision(3);
  why << "no listed term in an enabled category";
  if (!classifier_.empty() && config_.classifier)
    why << "; highest classifier score of an enabled category, " << d.score << ", is under its threshold";
  if (!off.empty()) why << " (disabled by the policy: " << off << ")";
  d.explanation = why.str();
  return d;
}

}  // namespace kinema
