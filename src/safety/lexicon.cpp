// The lexicon layer's tables: the build-time table (npm word lists + data/safety, see
// lexicon_convert.mjs) parsed once, indexed by first token, matched over normalised tokens.
#include <algorithm>
#include <sstream>

#include "kinema/error.hpp"
#include "safety_internal.hpp"

namespace kinema::safety::detail {
extern const char kLexiconTable[];
}

namespace kinema::safety {
namespace {

// A prompt token with doubled letters matches an entry when both squeeze to the same word, but only
// where squeezing cannot turn an ordinary word into a listed one ("as" is not "ass").
bool squeezed_key_ok(const std::string& e) {
  const std::string q = squeeze(e);
  return q == e || q.size() >= 4;
}

bool token_eq(const std::string& t, const std::string& e) {
  if (t == e) return true;
  const std::string qt = squeeze(t);
  return qt != t && qt == squeeze(e) && squeezed_key_ok(e);
}

Strength strength_from(const std::string& s) {
  if (s == "block") return Strength::block;
  if (s == "context") return Strength::context;
  if (s == "allow") return Strength::allow;
  return Strength::minor;
}

}  // namespace

void Lexicon::add(LexEntry e) {
  if (e.tokens.empty()) return;
  const size_t id = entries_.size();
  index_[e.tokens[0]].push_back(id);
  if (squeezed_key_ok(e.tokens[0]) && squeeze(e.tokens[0]) != e.tokens[0])
    index_["~" + squeeze(e.tokens[0])].push_back(id);
  else if (squeeze(e.tokens[0]) == e.tokens[0])
    index_["~" + e.tokens[0]].push_back(id);
  entries_.push_back(std::move(e));
}

std::vector<LexHit> Lexicon::find(const std::vector<std::string>& tokens, const std::vector<bool>& masked) const {
  std::vector<LexHit> hits;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (masked[i]) continue;
    std::vector<size_t> ids;
    if (auto it = index_.find(tokens[i]); it != index_.end()) ids = it->second;
    const std::string q = squeeze(tokens[i]);
    if (q != tokens[i])
      if (auto it = index_.find("~" + q); it != index_.end()) ids.insert(ids.end(), it->second.begin(), it->second.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (size_t id : ids) {
      const LexEntry& e = entries_[id];
      if (i + e.tokens.size() > tokens.size()) continue;
      bool ok = true;
      for (size_t k = 0; k < e.tokens.size() && ok; ++k) ok = !masked[i + k] && token_eq(tokens[i + k], e.tokens[k]);
      if (ok) hits.push_back({&e, i, e.tokens.size()});
    }
  }
  std::stable_sort(hits.begin(), hits.end(), [](const LexHit& a, const LexHit& b) {
    return a.start != b.start ? a.start < b.start : a.len > b.len;
  });
  return hits;
}

std::vector<std::string> classifier_tokens(const std::vector<std::string>& tokens, const Lexicon* extra) {
  const std::vector<bool> none(tokens.size(), false);
  std::vector<size_t> phrase_len(tokens.size(), 0);
  for (const Lexicon* lex : {&builtin_lexicon(), extra}) {
    if (!lex) continue;
    for (const LexHit& h : lex->find(tokens, none))
      if (h.entry->strength == Strength::allow) phrase_len[h.start] = std::max(phrase_len[h.start], h.len);
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < tokens.size();) {
    if (phrase_len[i] > 0) {
      out.push_back("allowedphrase");
      i += phrase_len[i];
    } else {
      out.push_back(tokens[i++]);
    }
  }
  return out;
}

const Lexicon& builtin_lexicon() {
  static const Lexicon lex = [] {
    Lexicon l;
    std::istringstream in(detail::kLexiconTable);
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::istringstream ls(line);
      for (std::string x; std::getline(ls, x, '\t');) f.push_back(x);
      if (f.size() != 4) continue;
      LexEntry e;
      e.source = f[0];
      e.strength = strength_from(f[2]);
      e.category = (e.strength == Strength::allow || e.strength == Strength::minor) ? SafetyCategory::benign
                                                                                      : category_from_name(f[1]);
      e.term = f[3];
      e.tokens = normalize_with(f[3], nullptr).tokens;
      l.add(std::move(e));
    }
    return l;
  }();
  return lex;
}

const std::unordered_set<std::string>& builtin_vocabulary() {
  static const std::unordered_set<std::string> vocab = [] {
    std::unordered_set<std::string> v = {"a", "i", "the", "of", "and", "with", "in", "on", "man", "woman", "girl",
                                         "boy", "video", "photo", "picture", "image", "show", "me", "my", "her", "his"};
    for (const LexEntry& e : builtin_lexicon().entries())
      for (const std::string& t : e.tokens) v.insert(t);
    return v;
  }();
  return vocab;
}

}  // namespace kinema::safety
