// World captions for text-encoder training: index -> scene, caption or short prompt, tokens
// with word classes, all from one seeded RNG.
#include <cctype>

#include "kinema/error.hpp"
#include "kinema/world_captions.hpp"
#include "world/internal.hpp"
#include "world/lexicon.hpp"

namespace kinema::world {
namespace {

const std::string kWordStart = "\xe2\x96\x81";  // sentencepiece's "▁"

WordClass class_of_word(std::string w) {
  std::string clean;
  for (char ch : w)
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '\'')
      clean += char(std::tolower(static_cast<unsigned char>(ch)));
  while (!clean.empty() && (clean.back() == '-' || clean.back() == '\'')) clean.pop_back();
  if (clean.empty()) return WordClass::other;
  if (auto t = lex(clean)) {
    switch (t->kind) {
      case Tok::color: return WordClass::colour;
      case Tok::shape: return WordClass::shape;
      case Tok::size: case Tok::dir: case Tok::relation: return WordClass::spatial;
      default: break;
    }
  }
  for (const BgColor& b : background_palette())  // background colours ("lavender", "olive")
    if (clean == b.name) return WordClass::colour;
  return WordClass::other;
}

}  // namespace

CaptionPick pick_caption(const CaptionDatasetOptions& o, int64_t index) {
  check(!o.sizes.empty() && o.frames >= 1 && o.fps >= 1, "CaptionDataset",
        "sizes must be non-empty and frames, fps positive");
  Rng rng(mix_seed(o.seed, uint64_t(index)));
  const auto [w, h] = o.sizes[size_t(rng.below(int(o.sizes.size())))];
  const bool image = rng.chance(o.image_fraction);
  SampleOptions so{w, h, o.fps, image ? 1 : o.frames};
  CaptionPick p;
  // Held-out combinations never reach training: draw again from the same stream.
  for (int tries = 0;; ++tries) {
    p.scene = sample_scene(rng.next(), so);
    if (!is_held_out(p.scene)) break;
    check(tries < 1000, "CaptionDataset", "could not draw a scene outside the held-out set");
  }
  p.short_prompt = rng.chance(o.short_prompt_fraction);
  const uint64_t caption_seed = rng.next();
  p.text = p.short_prompt ? short_prompt(p.scene, caption_seed) : detailed_caption(p.scene, caption_seed);
  return p;
}

std::vector<WordClass> caption_word_classes(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::vector<WordClass> out(ids.size(), WordClass::other);
  size_t i = 0;
  while (i < ids.size()) {
    // A word: a piece starting with "▁" (or the first piece) and the pieces continuing it.
    size_t j = i + 1;
    std::string word = tokenizer.piece(ids[i]);
    if (ids[i] == tokenizer.eos_id() || ids[i] == tokenizer.pad_id()) {
      i = j;
      continue;
    }
    while (j < ids.size() && ids[j] != tokenizer.eos_id() && ids[j] != tokenizer.pad_id()) {
      const std::string p = tokenizer.piece(ids[j]);
      if (p.rfind(kWordStart, 0) == 0) break;
      word += p, ++j;
    }
    if (word.rfind(kWordStart, 0) == 0) word = word.substr(kWordStart.size());
    const WordClass c = class_of_word(word);
    for (size_t k = i; k < j; ++k) out[k] = c;
    i = j;
  }
  return out;
}

CaptionDataset::CaptionDataset(Tokenizer tokenizer, const CaptionDatasetOptions& options)
    : tokenizer_(std::move(tokenizer)), options_(options) {
  check(options.count > 0, "CaptionDataset", "count must be positive");
  pick_caption(options_, 0);  // validates the options
}

CaptionSample CaptionDataset::get(int64_t index) const {
  check(index >= 0 && index < options_.count, "CaptionDataset", "index ", index, " outside [0, ",
        options_.count, ")");
  CaptionSample s;
  s.text = pick_caption(options_, index).text;
  s.ids = tokenizer_.encode(s.text);
  s.classes = caption_word_classes(tokenizer_, s.ids);
  return s;
}

CaptionDataset heldout_caption_set(const Tokenizer& tokenizer, int64_t count) {
  CaptionDatasetOptions o;
  o.count = count;
  o.seed = kHeldOutCaptionSeed;
  return CaptionDataset(tokenizer, o);
}

}  // namespace kinema::world
