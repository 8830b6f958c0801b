// How far apart the text encoder holds the caption's words (kinema/word_separation.hpp).
#include "kinema/word_separation.hpp"

#include <cmath>

#include "kinema/error.hpp"
#include "kinema/world.hpp"

namespace kinema {
namespace {

void add_meanings(WordGroup& g, const std::vector<std::vector<std::string>>& names) {
  for (size_t m = 0; m < names.size(); ++m)
    for (const std::string& w : names[m]) g.words.push_back(w), g.meaning.push_back(int(m));
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0;
}

// The caption before '@', without its trailing spaces: its pieces are the same for every word.
std::string text_before(const std::string& caption, size_t at) {
  std::string before = caption.substr(0, at);
  while (!before.empty() && before.back() == ' ') before.pop_back();
  return before;
}

}  // namespace

std::vector<WordGroup> world_word_groups() {
  WordGroup shapes{"shape", "A short video of a plain background. We see a big yellow @ at the center of the frame.", {}};
  add_meanings(shapes, world::shape_words());
  WordGroup colours{"colour", "A short video of a plain background. We see a big @ star at the center of the frame.", {}};
  for (int c = 0; c < world::kColorCount; ++c) colours.words.push_back(world::color_name(world::Color(c))), colours.meaning.push_back(c);
  WordGroup counts{"count", "An animation of a flat dusk background. @ red hexagons are scattered across the frame.", {}};
  for (size_t n = 2; n < world::number_words().size(); ++n)
    counts.words.push_back(world::number_words()[n]), counts.meaning.push_back(int(n));
  WordGroup sizes{"size", "A short video of a plain background. We see a @ green circle at the center of the frame.", {}};
  add_meanings(sizes, world::size_words());
  return {shapes, colours, counts, sizes};
}


WordSeparation measure_word_separation(const Tokenizer& tokenizer, const TextEncoder& encoder, const WordGroup& group) {
  const size_t at = group.caption.find('@');
  check(at != std::string::npos, "word separation", "the caption of group \"", group.name, "\" has no '@'");
  check(group.words.size() >= 2 && group.meaning.size() == group.words.size(), "word separation", "group \"",
        group.name, "\" needs two words or more, each with its meaning");
  std::vector<std::string> captions;
  for (const std::string& w : group.words) captions.push_back(std::string(group.caption).replace(at, 1, w));
  const TokenBatch batch = tokenizer.encode_batch(captions);
  const Tensor out = encoder.forward(batch);  // [n, L, D]
  const int64_t L = out.shape()[1], D = out.shape()[2];
  const std::vector<float> v = out.to_vector();
  // Each word's vector: the mean of the encoder's outputs over its own pieces [first, last).
  const std::string before = text_before(group.caption, at);
  const size_t first = tokenizer.encode_pieces(before).size();
  std::vector<std::vector<double>> vec;
  for (size_t i = 0; i < group.words.size(); ++i) {
    const size_t last = tokenizer.encode_pieces(before + (before.empty() ? "" : " ") + group.words[i]).size();
    check(last > first, "word separation", "the word \"", group.words[i], "\" has no tokens of its own");
    check(int64_t(last) <= L, "word separation", "the caption with \"", group.words[i], "\" is longer than the encoder's input");
    std::vector<double> m(size_t(D), 0.0);
    for (size_t l = first; l < last; ++l)
      for (int64_t d = 0; d < D; ++d) m[size_t(d)] += v[(i * size_t(L) + l) * size_t(D) + size_t(d)] / double(last - first);
    vec.push_back(std::move(m));
  }
  WordSeparation s{group, {}, -1, "", "", {}};
  const size_t n = vec.size();
  s.cosine.assign(n * n, 1.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double c = s.cosine[i * n + j] = s.cosine[j * n + i] = cosine(vec[i], vec[j]);
      if (group.meaning[i] == group.meaning[j]) continue;  // synonyms may coincide
      if (c > s.max_cosine) s.max_cosine = c, s.closest_a = group.words[i], s.closest_b = group.words[j];
      if (c > kCollapsedCosine) s.collapsed.emplace_back(i, j);
    }
  return s;
}

}  // namespace kinema
