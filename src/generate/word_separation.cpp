// How far apart the text encoder holds the caption's words (kinema/word_separation.hpp).
#include "kinema/word_separation.hpp"

#include <cmath>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/train.hpp"
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

void check_group(const WordGroup& group) {
  check(group.caption.find('@') != std::string::npos, "word separation", "the caption of group \"", group.name,
        "\" has no '@'");
  check(group.words.size() >= 2 && group.meaning.size() == group.words.size(), "word separation", "group \"",
        group.name, "\" needs two words or more, each with its meaning");
}

// The group's caption once per word, tokenized as one batch.
TokenBatch group_captions(const Tokenizer& tokenizer, const WordGroup& group) {
  check_group(group);
  const size_t at = group.caption.find('@');
  std::vector<std::string> captions;
  for (const std::string& w : group.words) captions.push_back(std::string(group.caption).replace(at, 1, w));
  return tokenizer.encode_batch(captions);
}

// Row i of a batch as a batch of one, padded to the same length.
TokenBatch batch_row(const TokenBatch& batch, size_t i) {
  const auto L = size_t(batch.length);
  TokenBatch row{1, batch.length, {}, {}, {batch.lengths[i]}};
  row.ids.assign(batch.ids.begin() + long(i * L), batch.ids.begin() + long((i + 1) * L));
  row.mask.assign(batch.mask.begin() + long(i * L), batch.mask.begin() + long((i + 1) * L));
  return row;
}

}  // namespace

std::vector<WordGroup> world_word_groups() {
  WordGroup shapes{"shape", "A short video of a plain background. We see a big yellow @ at the center of the frame.", {}, {}};
  add_meanings(shapes, world::shape_words());
  WordGroup colours{"colour", "A short video of a plain background. We see a big @ star at the center of the frame.", {}, {}};
  for (int c = 0; c < world::kColorCount; ++c) colours.words.push_back(world::color_name(world::Color(c))), colours.meaning.push_back(c);
  WordGroup counts{"count", "An animation of a flat dusk background. @ red hexagons are scattered across the frame.", {}, {}};
  for (size_t n = 2; n < world::number_words().size(); ++n)
    counts.words.push_back(world::number_words()[n]), counts.meaning.push_back(int(n));
  WordGroup sizes{"size", "A short video of a plain background. We see a @ green circle at the center of the frame.", {}, {}};
  add_meanings(sizes, world::size_words());
  return {shapes, colours, counts, sizes};
}


WordSeparation measure_word_separation(const Tokenizer& tokenizer, const TextEncoder& encoder, const WordGroup& group) {
  const TokenBatch batch = group_captions(tokenizer, group);
  const size_t at = group.caption.find('@');
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

WordInfluence measure_word_influence(const DiT& dit, const Tokenizer& tokenizer, const TextEncoder& encoder,
                                     const WordGroup& group, float t, const Shape& latent, uint64_t seed) {
  const DiTConfig& c = dit.config();
  check(latent.size() == 5 && latent[0] == 1 && latent[1] == c.out_dim, "word influence", "the latent must be [1, ",
        c.out_dim, ", T, H, W]; got ", shape_str(latent));
  check(t > 0 && t <= 1, "word influence", "t must be in (0, 1]; got ", t);
  const TokenBatch batch = group_captions(tokenizer, group);
  NoGradGuard no_grad;
  TrainRng rng(seed, 0x776f7264ULL);
  std::vector<float> noise(size_t(shape_numel(latent)));
  for (float& x : noise) x = rng.normal();
  const Tensor x = Tensor::from_vector(noise, latent), step = Tensor::from_vector({1000.f * t}, {1});
  DiTForwardOptions fo;
  if (c.in_dim > c.out_dim) fo.condition = no_frame_condition(c, latent);
  std::vector<std::vector<float>> v;
  for (size_t i = 0; i < group.words.size(); ++i) {
    // Each caption alone, as generation encodes it: a GEMM's rounding may depend on the row a
    // caption takes in a batch (oneDNN's AVX2 kernels do), and two words with one embedding must
    // give one velocity bit for bit.
    fo.context_lens = {batch.lengths[i]};
    v.push_back(dit.forward(x, step, encoder.forward(batch_row(batch, i)), fo).to_vector());
  }
  WordInfluence r{group, t, {}, 0, 0, "", ""};
  const size_t n = v.size();
  r.change.assign(n * n, 0.0);
  size_t pairs = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      double d = 0, a = 0, b = 0;
      for (size_t k = 0; k < v[i].size(); ++k) d += std::pow(double(v[i][k]) - v[j][k], 2), a += double(v[i][k]) * v[i][k], b += double(v[j][k]) * v[j][k];
      const double ch = r.change[i * n + j] = r.change[j * n + i] = a + b > 0 ? std::sqrt(2 * d / (a + b)) : 0;
      if (group.meaning[i] == group.meaning[j]) continue;
      r.mean_change += ch, ++pairs;
      if (pairs == 1 || ch < r.least_change) r.least_change = ch, r.least_a = group.words[i], r.least_b = group.words[j];
    }
  if (pairs > 0) r.mean_change /= double(pairs);
  return r;
}

}  // namespace kinema
