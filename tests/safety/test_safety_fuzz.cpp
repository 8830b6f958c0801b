// The normaliser, the policy and the policy-file parser on ~10k random and mutated inputs
// (invalid UTF-8, control bytes, deep nesting): they return or throw Error, never crash.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "kinema/error.hpp"
#include "kinema/safety.hpp"

namespace kinema {
namespace {

std::string mutate(std::string s, std::mt19937_64& rng) {
  const int edits = 1 + int(rng() % 6);
  for (int e = 0; e < edits; ++e) {
    const size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 4) {
      case 0: s.insert(at, 1, char(rng() % 256)); break;
      case 1: if (at < s.size()) s.erase(at, 1 + rng() % 4); break;
      case 2: if (at < s.size()) s[at] = char(rng() % 256); break;
      default: s.insert(at, s.substr(0, rng() % (s.size() + 1))); break;
    }
  }
  return s;
}

TEST(SafetyFuzz, NormalizerAndPolicyNeverCrash) {
  const PromptPolicy policy = PromptPolicy::load_default();
  const std::vector<std::string> seeds = {"a n.u.d.e w0man", "p\xD0\xBErn \xE2\x80\x8B", "\xEF\xBD\x8E\xEF\xBD\x95",
                                          "killer whale", "\xF0\x9F\x98\x80 emoji", "\xC3\x28\xA0\xA1\xF0\x28\x8C\xBC"};
  std::mt19937_64 rng(9);
  for (int i = 0; i < 5000; ++i) {
    std::string s;
    if (i % 2) {
      s = mutate(seeds[size_t(i) % seeds.size()], rng);
    } else {
      s.resize(rng() % 200);
      for (char& c : s) c = char(rng() % 256);
    }
    const NormalizedPrompt n = normalize_prompt(s);
    for (const std::string& t : n.tokens) ASSERT_FALSE(t.empty());
    if (i % 10 == 0) (void)policy.check(s);
  }
  EXPECT_TRUE(normalize_prompt(std::string(100000, 'a')).tokens.size() == 1);
  EXPECT_TRUE(normalize_prompt(std::string(1000, ' ') + "a b c d e f g").tokens.size() >= 1);
}

TEST(SafetyFuzz, PolicyParserThrowsOnlyError) {
  const std::vector<std::string> seeds = {
      R"({"version": 1, "categories": {"violence": {"enabled": false, "threshold": 0.7}}})",
      R"({"block_terms": {"copyright": ["acme"]}, "allow_terms": ["zombie walk"], "classifier": true})",
      std::string(5000, '[') + std::string(5000, ']'), "{\"allow_terms\": [\"\xC3\x28\"]}"};
  std::mt19937_64 rng(11);
  int parsed = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s;
    if (i % 3) {
      s = mutate(seeds[size_t(i) % seeds.size()], rng);
    } else {
      s.resize(rng() % 120);
      for (char& c : s) c = char(rng() % 256);
    }
    try {
      (void)parse_policy_json(s, "fuzz");
      ++parsed;
    } catch (const Error&) {
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace kinema
