// Word-vector fallback of the prompt grammar: the vocabulary word nearest to an unknown word.
#pragma once
#include <optional>
#include <string>

namespace kinema::world {

struct NearestWord { std::string word, role; double cosine = 0; };
// Nearest vocabulary word by GloVe cosine (>= 0.55), or nothing if the word is not in the
// shipped table (not frequent enough, or not close to anything the world can draw).
std::optional<NearestWord> nearest_word(const std::string& word);
size_t nearest_table_size();  // 0 when the table could not be found

}  // namespace kinema::world
