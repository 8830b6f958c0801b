#include "text_test_util.hpp"

#include <random>

#include "kinema/world.hpp"

namespace kinema::test {

TextEncoderConfig tiny_text_config() {
  TextEncoderConfig c;
  c.vocab_size = 100, c.dim = 64, c.dim_attn = 64, c.ffn_dim = 128;
  c.num_heads = 4, c.num_layers = 2, c.num_buckets = 32;
  return c;
}

TokenBatch seeded_tokens(const std::vector<int64_t>& lengths, int64_t length, int64_t vocab,
                         uint64_t seed) {
  std::mt19937_64 g(seed);
  TokenBatch t;
  t.batch = int64_t(lengths.size()), t.length = length, t.lengths = lengths;
  for (int64_t n : lengths)
    for (int64_t j = 0; j < length; ++j) {
      t.ids.push_back(j < n ? int32_t(3 + g() % uint64_t(vocab - 3)) : 0);
      t.mask.push_back(j < n ? 1 : 0);
    }
  return t;
}

std::vector<std::string> world_captions(int scenes, uint64_t seed) {
  std::vector<std::string> out;
  for (int i = 0; i < scenes; ++i) {
    world::Scene s = world::sample_scene(seed + uint64_t(i));
    out.push_back(world::detailed_caption(s, seed + uint64_t(i)));
    out.push_back(world::short_prompt(s, seed + uint64_t(i)));
  }
  return out;
}

}  // namespace kinema::test
