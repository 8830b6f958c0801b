// Shared helpers for the text tests: a tiny encoder config, token batches and world captions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kinema/text_encoder.hpp"

namespace kinema::test {

// dim 64, 4 heads, 2 layers, ffn 128, vocab 100, 32 buckets (per-block position bias)
TextEncoderConfig tiny_text_config();
// Seeded ids in [3, vocab) with rows of the given lengths padded (id 0, mask 0) to `length`.
TokenBatch seeded_tokens(const std::vector<int64_t>& lengths, int64_t length, int64_t vocab,
                         uint64_t seed);
// Detailed captions and short prompts of world scenes seed .. seed + scenes - 1 (two per scene).
std::vector<std::string> world_captions(int scenes, uint64_t seed);

}  // namespace kinema::test
