// Layer 2: softmax regression over hashed word, word-pair and character n-gram features of the
// normalised prompt plus the lexicon's context hits. Character 3- and 4-grams let it read
// misspellings and word forms it never saw ("decapitating" from "decapitated"); word pairs let
// it tell "killer whale" from "killer with a knife".
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>

#include "kinema/error.hpp"
#include "safety_internal.hpp"

namespace kinema::safety {
namespace {

uint32_t hash_feature(std::string_view s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return uint32_t(h ^ (h >> 32)) & ((1u << kHashBits) - 1);
}

}  // namespace

constexpr char kMagic[8] = {'K', 'S', 'A', 'F', 'E', 'P', 'C', '1'};

Features featurize(const std::vector<std::string>& tokens, const std::vector<LexHit>& hits, bool keep_names) {
  std::vector<std::string> names = {"bias"};
  for (size_t i = 0; i < tokens.size(); ++i) {
    names.push_back("w:" + tokens[i]);
    if (i + 1 < tokens.size()) names.push_back("b:" + tokens[i] + " " + tokens[i + 1]);
    if (tokens[i] == "allowedphrase") continue;
    const std::string t = "<" + tokens[i] + ">";
    for (size_t n = 3; n <= 4; ++n)
      for (size_t k = 0; k + n <= t.size(); ++k) names.push_back("c:" + t.substr(k, n));
  }
  for (const LexHit& h : hits)
    if (h.entry->strength == Strength::block || h.entry->strength == Strength::context)
      names.push_back(std::string("l:") + category_name(h.entry->category));
  Features f;
  const float v = 1.0f / std::sqrt(float(names.size()));
  for (std::string& n : names) {
    f.index.push_back(hash_feature(n));
    f.value.push_back(v);
    if (keep_names) f.names.push_back(std::move(n));
  }
  return f;
}

}  // namespace kinema::safety

namespace kinema {

std::array<double, kSafetyClasses> PromptClassifier::predict(const safety::Features& f) const {
  std::array<double, kSafetyClasses> z{};
  for (size_t k = 0; k < f.index.size(); ++k)
    for (int c = 0; c < kSafetyClasses; ++c) z[size_t(c)] += double(weight(f.index[k], c)) * f.value[k];
  const double m = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (double& x : z) sum += (x = std::exp(x - m));
  for (double& x : z) x /= sum;
  return z;
}

// File: magic "KSAFEPC1", u32 hash bits, u32 classes, f32 scale, then int16 weights
// [2^bits, classes] = round(w / scale), little-endian.
void PromptClassifier::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary);
  check(bool(out), "safety", "cannot write classifier '", path, "'");
  float maxabs = 1e-12f;
  for (float x : w_) maxabs = std::max(maxabs, std::fabs(x));
  const float scale = maxabs / 32767.0f;
  const uint32_t bits = safety::kHashBits, classes = kSafetyClasses;
  out.write(safety::kMagic, 8);
  out.write(reinterpret_cast<const char*>(&bits), 4);
  out.write(reinterpret_cast<const char*>(&classes), 4);
  out.write(reinterpret_cast<const char*>(&scale), 4);
  std::vector<int16_t> q(w_.size());
  for (size_t i = 0; i < w_.size(); ++i) q[i] = int16_t(std::lround(w_[i] / scale));
  out.write(reinterpret_cast<const char*>(q.data()), std::streamsize(q.size() * 2));
  check(bool(out), "safety", "failed writing classifier '", path, "'");
}

PromptClassifier PromptClassifier::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(bool(in), "safety", "cannot open the prompt classifier '", path,
        "'; it ships in models/safety (set KINEMA_SAFETY_MODEL to another copy)");
  char magic[8] = {};
  uint32_t bits = 0, classes = 0;
  float scale = 0;
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&bits), 4);
  in.read(reinterpret_cast<char*>(&classes), 4);
  in.read(reinterpret_cast<char*>(&scale), 4);
  check(bool(in) && std::memcmp(magic, safety::kMagic, 8) == 0, "safety", "'", path, "' is not a kinema prompt classifier");
  check(bits == uint32_t(safety::kHashBits) && classes == uint32_t(kSafetyClasses) && std::isfinite(scale), "safety",
        "'", path, "' has ", bits, " hash bits and ", classes, " classes; expected ", safety::kHashBits, " and ",
        kSafetyClasses);
  std::vector<int16_t> q(size_t(1) << bits << 0);
  q.resize(q.size() * classes);
  in.read(reinterpret_cast<char*>(q.data()), std::streamsize(q.size() * 2));
  check(bool(in), "safety", "'", path, "' is truncated; expected ", q.size() * 2 + 20, " bytes");
  PromptClassifier c;
  c.w_.resize(q.size());
  for (size_t i = 0; i < q.size(); ++i) c.w_[i] = float(q[i]) * scale;
  return c;
}

void train_prompt_classifier(const std::vector<LabelledPrompt>& corpus, const ClassifierTrainOptions& o,
                             const std::string& out) {
  check(!corpus.empty(), "safety train", "empty corpus");
  const size_t classes = kSafetyClasses, buckets = size_t(1) << safety::kHashBits;
  std::vector<safety::Features> x;
  std::vector<int> y;
  std::array<double, kSafetyClasses> count{};
  for (const LabelledPrompt& p : corpus) {
    const std::vector<std::string> t = safety::classifier_tokens(normalize_prompt(p.text).tokens, nullptr);
    const std::vector<bool> masked(t.size(), false);
    x.push_back(safety::featurize(t, safety::builtin_lexicon().find(t, masked), false));
    const int label = p.label == SafetyCategory::sexual_minors ? int(SafetyCategory::sexual) : int(p.label);
    y.push_back(label);
    count[size_t(label)] += 1;
  }
  // Class weights balance the classes so benign (the largest) does not swamp the rest.
  std::array<double, kSafetyClasses> cw{};
  for (size_t c = 0; c < classes; ++c) cw[c] = count[c] > 0 ? double(corpus.size()) / (classes * count[c]) : 0;
  cw[0] *= 3;  // a false refusal costs more than the lexicon's missed paraphrase: lean benign on unseen words
  std::vector<float> w(buckets * classes, 0.0f), g2(buckets * classes, 1e-8f);
  PromptClassifier model;
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(o.seed);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i : order) {
      model.w_.swap(w);
      const auto p = model.predict(x[i]);
      model.w_.swap(w);
      for (size_t c = 0; c < classes; ++c) {
        const double err = (p[c] - (int(c) == y[i] ? 1.0 : 0.0)) * cw[size_t(y[i])];
        for (size_t k = 0; k < x[i].index.size(); ++k) {
          const size_t j = size_t(x[i].index[k]) * classes + c;
          const float g = float(err * x[i].value[k] + o.l2 * w[j]);
          g2[j] += g * g;
          w[j] -= float(o.learning_rate) * g / std::sqrt(g2[j]);
        }
      }
    }
  }
  model.w_ = std::move(w);
  model.save(out);
}

}  // namespace kinema
