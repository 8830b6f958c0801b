// Can the DiT tell the caption's words apart? The text encoder's output for each word of a
// group (the world's shapes, colours, counts, sizes), each put in the same caption, compared
// by cosine similarity. A DiT reads a caption only through these vectors, so two words whose
// vectors coincide are one word to it whatever it learns. Joint training of the text encoder
// with a DiT that does not yet use a word's meaning collapses such words onto one vector
// (session 19: block, heart, cross and hexagon at cosine 0.97-0.99 in the dit11 bundle, where
// the masked-token encoder it started from had 0.37-0.62). `kinema model words DIR`.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "kinema/dit.hpp"
#include "kinema/text_encoder.hpp"
#include "kinema/tokenizer.hpp"

namespace kinema {

struct WordGroup {
  std::string name;                // "shape", "colour", ...
  std::string caption;             // with '@' where each word goes
  std::vector<std::string> words;
  std::vector<int> meaning;        // per word: words of one meaning are synonyms (disc, circle)
};

// The world's groups: shapes and sizes (the names captions use, synonyms included), colours, counts.
std::vector<WordGroup> world_word_groups();

// Above this cosine two words are taken as one (the encoder's own noise between unrelated words
// of a trained vocabulary stays well below it).
inline constexpr double kCollapsedCosine = 0.95;

struct WordSeparation {
  WordGroup group;
  // cosine[i * n + j]: the encoder outputs at word i's and word j's tokens (each the mean over
  // the word's pieces), the same caption otherwise.
  std::vector<double> cosine;
  double max_cosine = -1;          // over pairs of different meanings (synonyms may coincide)
  std::string closest_a, closest_b;
  // Pairs (i < j) of different meanings above kCollapsedCosine: one word to the DiT.
  std::vector<std::pair<size_t, size_t>> collapsed;
};

WordSeparation measure_word_separation(const Tokenizer& tokenizer, const TextEncoder& encoder,
                                       const WordGroup& group);

// Does the DiT act on the words it is given apart? Its velocity on one noise input at timestep
// t (latent [1, C, T, H, W]) with the group's caption holding each word in turn. Separate
// vectors are not enough: session 20 found shape words the encoder held apart (cosine ~0.1 in
// the DiT's context) changing the velocity by 2-4%, colour words by several times more, and the
// samples of six shapes the same blob.
struct WordInfluence {
  WordGroup group;
  float t = 0;
  // change[i * n + j] = |v_i - v_j| / sqrt((|v_i|^2 + |v_j|^2) / 2): 0 when the DiT ignores the swap.
  std::vector<double> change;
  double mean_change = 0;          // over pairs of different meanings
  double least_change = 0;         // the pair of different meanings the DiT treats most alike
  std::string least_a, least_b;
};

WordInfluence measure_word_influence(const DiT& dit, const Tokenizer& tokenizer, const TextEncoder& encoder,
                                     const WordGroup& group, float t, const Shape& latent, uint64_t seed = 1);

}  // namespace kinema
