// The prompt grammar's lexicon: every word the world understands, with synonyms, mapped to a
// token kind and value.
#pragma once
#include <optional>
#include <string>

namespace kinema::world {

enum class Tok {
  filler, number, color, shape, size, verb, dir, spin, relation, background, camera, zoom, then, effect_to, of,
  times, place
};
// Where in the frame an object is (value of Tok::place); "left"/"right"/"upper"/"lower" are
// directions that the parser reads as places by their context ("on the left", "top left").
enum PlaceWord { kPlaceCenter, kPlaceTop, kPlaceBottom };
enum class Verb { move, bounce, fall, rotate, grow, shrink, orbit, appear, disappear, still, hit, bite, behind, collide };
struct Token {
  Tok kind = Tok::filler;
  int value = 0;          // enum value (Color, Shape, Size, Verb, Dir, Background...) or number
  bool plural = false;    // shape nouns
  std::string word;
};

// Looks a lowercase word up; nothing if the word is unknown.
std::optional<Token> lex(const std::string& word);
// Number of distinct words the lexicon knows (reported as the vocabulary size).
int lexicon_size();

// Background kinds of the grammar (value of Tok::background).
enum BgWord { kBgGrass, kBgSky, kBgNight, kBgSand, kBgGradient, kBgStripes, kBgOcean, kBgWord };

}  // namespace kinema::world
