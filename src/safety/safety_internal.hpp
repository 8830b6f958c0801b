// Internals of kinema_safety shared by its files: the compiled lexicon, feature hashing and the
// layer-2 classifier.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kinema/safety.hpp"

namespace kinema::safety {

enum class Strength { block, context, allow, minor };

struct LexEntry {
  std::vector<std::string> tokens;  // normalised
  SafetyCategory category = SafetyCategory::benign;
  Strength strength = Strength::block;
  std::string source;  // "naughty-words", "cuss", "data/safety/lexicon.tsv", "policy block_terms"
  std::string term;    // as written in its list
};

struct LexHit {
  const LexEntry* entry;
  size_t start, len;  // token span
};

// Single letters with runs of 3+ squeezed ("nuuude" -> "nude"); used by the lexicon index.
std::string squeeze(std::string_view t);

// A set of entries indexed by first token (exact, and squeezed for tokens with doubled letters).
class Lexicon {
 public:
  void add(LexEntry e);
  // Every match over tokens whose positions are not masked; longest first at each start.
  std::vector<LexHit> find(const std::vector<std::string>& tokens, const std::vector<bool>& masked) const;
  const std::vector<LexEntry>& entries() const { return entries_; }

 private:
  std::vector<LexEntry> entries_;
  std::unordered_map<std::string, std::vector<size_t>> index_;
};

// The built-in table (generated at build time from npm + data/safety), parsed once.
const Lexicon& builtin_lexicon();
// Every word of the built-in lexicon: guides the normaliser when it rejoins "n u d e".
const std::unordered_set<std::string>& builtin_vocabulary();
// Normalisation without the vocabulary (used while building the lexicon itself).
NormalizedPrompt normalize_with(std::string_view prompt, const std::unordered_set<std::string>* vocab);

// The tokens the classifier reads: allow phrases (built-in, and extra's when given) become the one
// token "allowedphrase", so "the naked eye" or "blue tit" never push it towards a category.
std::vector<std::string> classifier_tokens(const std::vector<std::string>& tokens, const Lexicon* extra);

// Hashed sparse features of a normalised prompt.
inline constexpr int kHashBits = 16;
struct Features {
  std::vector<uint32_t> index;
  std::vector<float> value;
  std::vector<std::string> names;  // parallel to index when requested (for explanations)
};
Features featurize(const std::vector<std::string>& tokens, const std::vector<LexHit>& hits, bool keep_names);

}  // namespace kinema::safety

namespace kinema {
// Softmax regression over hashed features; weights quantised to int16 on disk.
class PromptClassifier {
 public:
  static PromptClassifier load(const std::string& path);
  void save(const std::string& path) const;
  std::array<double, kSafetyClasses> predict(const safety::Features& f) const;
  // Contribution of each feature to class c (for explanations).
  float weight(uint32_t index, int c) const { return w_[size_t(index) * kSafetyClasses + size_t(c)]; }
  std::vector<float> w_;  // [buckets, classes]
};
}  // namespace kinema
