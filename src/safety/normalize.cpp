// Prompt normalisation: undoes the usual ways of hiding a word from a filter, so the lexicons
// and the classifier see "nude" in "NUDE", "n u d e", "n.u.d.e", "nuuude", "n00de", "nսde"
// (Cyrillic/Armenian look-alikes), "ｎｕｄｅ" (fullwidth) and "nu\u200Bde" (zero-width space).
// Works on any bytes: invalid UTF-8 is skipped, never trusted.
#include <string>
#include <unordered_set>

#include "safety_internal.hpp"

namespace kinema::safety {
namespace {

// Decodes one UTF-8 sequence at s[i]; returns 0xFFFD and advances one byte when invalid.
uint32_t decode(std::string_view s, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return ++i, c;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c >> 5) == 6) n = 1, cp = c & 0x1F;
  else if ((c >> 4) == 14) n = 2, cp = c & 0x0F;
  else if ((c >> 3) == 30) n = 3, cp = c & 0x07;
  else return ++i, 0xFFFD;
  for (size_t k = 1; k <= n; ++k) {
    if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 2) return ++i, 0xFFFD;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  }
  i += n + 1;
  return cp;
}

// Latin-1 Supplement letters U+00C0..U+00FF folded to ASCII ("é" -> "e"); 0 = not a letter.
constexpr char kLatin1[] =
    "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyts"   // C0..DF (D7 is the multiplication sign)
    "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyty";  // E0..FF (F7 is the division sign)

// Look-alikes of Latin letters in Cyrillic, Greek and Armenian, lower and upper case.
char homoglyph(uint32_t cp) {
  switch (cp) {
    case 0x0430: case 0x0410: case 0x03B1: case 0x0391: return 'a';
    case 0x0432: case 0x0412: case 0x03B2: case 0x0392: case 0x042C: case 0x044C: return 'b';
    case 0x0441: case 0x0421: case 0x03F2: return 'c';
    case 0x0501: return 'd';
    case 0x0435: case 0x0415: case 0x0451: case 0x0401: case 0x03B5: case 0x0395: return 'e';
    case 0x0261: return 'g';
    case 0x04BB: case 0x041D: case 0x043D: case 0x0397: return 'h';
    case 0x0456: case 0x0406: case 0x03B9: case 0x0399: case 0x0457: case 0x0131: return 'i';
    case 0x0458: case 0x0408: case 0x03F3: return 'j';
    case 0x043A: case 0x041A: case 0x03BA: case 0x039A: return 'k';
    case 0x04CF: return 'l';
    case 0x043C: case 0x041C: case 0x039C: return 'm';
    case 0x03B7: case 0x039D: case 0x0578: case 0x043F: return 'n';
    case 0x043E: case 0x041E: case 0x03BF: case 0x039F: case 0x03C3: case 0x0585: return 'o';
    case 0x0440: case 0x0420: case 0x03C1: case 0x03A1: return 'p';
    case 0x051B: case 0x0566: return 'q';
    case 0x0433: case 0x0413: return 'r';
    case 0x0455: case 0x0405: return 's';
    case 0x0442: case 0x0422: case 0x03C4: case 0x03A4: return 't';
    case 0x057D: case 0x03C5: return 'u';
    case 0x03BD: case 0x0475: case 0x0474: return 'v';
    case 0x051D: case 0x0461: case 0x03C9: case 0x0448: return 'w';
    case 0x0445: case 0x0425: case 0x03C7: case 0x03A7: return 'x';
    case 0x0443: case 0x0423: case 0x03B3: case 0x03A5: case 0x04AF: return 'y';
    case 0x0396: return 'z';
    default: return 0;
  }
}

bool invisible(uint32_t cp) {
  return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF || cp == 0x00AD ||
         cp == 0x034F || (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0x180E;
}

// One code point to ASCII: a lower-case letter, digit, punctuation, ' ' (separator) or 0 (drop).
char fold(uint32_t cp) {
  if (invisible(cp)) return 0;
  if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0;  // fullwidth forms
  if (cp == 0x3000) return ' ';
  if (cp < 0x80) {
    const char c = char(cp);
    if (c >= 'A' && c <= 'Z') return char(c - 'A' + 'a');
    if (c < 0x20 || c == 0x7F) return ' ';
    return c;
  }
  if (cp >= 0xC0 && cp <= 0xFF) {
    const char c = kLatin1[cp - 0xC0];
    return c ? c : ' ';
  }
  if (cp == 0x00B7 || cp == 0x2022 || cp == 0x2027 || cp == 0x2010 || cp == 0x2011 || cp == 0x2013) return '.';
  if (const char h = homoglyph(cp)) return h;
  // Mathematical alphanumeric letters (U+1D400..U+1D6A3): bold, italic, script... A-Z a-z in blocks of 52.
  if (cp >= 0x1D400 && cp <= 0x1D6A3) {
    const uint32_t k = (cp - 0x1D400) % 52;
    return k < 26 ? char('a' + k) : char('a' + k - 26);
  }
  return ' ';
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alpha(char c) { return c >= 'a' && c <= 'z'; }
// Characters people insert inside a word to break it up: "s.e.x", "s-e-x", "s_e_x", "s*e*x".
bool is_joiner(char c) { return c == '.' || c == '-' || c == '_' || c == '*' || c == '\'' || c == '~' || c == '^'; }
// Leetspeak symbols that stand for letters inside a word.
bool is_leet_symbol(char c) { return c == '@' || c == '$' || c == '!' || c == '|'; }

char leet(char c) {
  switch (c) {
    case '0': return 'o'; case '1': return 'i'; case '3': return 'e'; case '4': return 'a';
    case '5': return 's'; case '7': return 't'; case '8': return 'b'; case '9': return 'g';
    case '@': return 'a'; case '$': return 's'; case '!': return 'i'; case '|': return 'l';
    default: return c;
  }
}

// A raw chunk (between separators) to a token: joiners removed, leetspeak mapped when the chunk
// is a word with digits/symbols in it (not a number: "2 girls", "4k", "3d" stay as they are).
std::string clean_chunk(std::string c) {
  while (!c.empty() && (is_joiner(c.back()) || c.back() == '!' || c.back() == '|')) c.pop_back();
  size_t b = 0;
  while (b < c.size() && (is_joiner(c[b]) || c[b] == '!' || c[b] == '|')) ++b;
  c.erase(0, b);
  int letters = 0;
  for (char ch : c) letters += is_alpha(ch);
  const bool map_leet = letters >= 1 && c.size() >= 3;
  std::string t;
  for (char ch : c) {
    if (is_joiner(ch)) continue;
    if (map_leet && (is_leet_symbol(ch) || (ch >= '0' && ch <= '9'))) ch = leet(ch);
    if (is_alnum(ch)) t += ch;
  }
  return t;
}

// "nuuuude" -> "nude", "asssss" -> "ass": runs of 3+ letters become 2 when that is a known word,
// else 1 (English has no tripled letters).
std::string squash_runs(const std::string& t, const std::unordered_set<std::string>* vocab) {
  bool triple = false;
  for (size_t i = 2; i < t.size() && !triple; ++i) triple = t[i] == t[i - 1] && t[i] == t[i - 2];
  if (!triple) return t;
  std::string two, run1, one;  // runs of 3+ to 2; runs of 3+ to 1; every run to 1
  for (size_t i = 0; i < t.size(); ++i) {
    const bool in_run3 = (i >= 2 && t[i] == t[i - 1] && t[i] == t[i - 2]);
    const bool run3_tail = in_run3 || (i >= 1 && t[i] == t[i - 1] && i + 1 < t.size() && t[i + 1] == t[i]);
    if (!in_run3) two += t[i];
    if (!run3_tail) run1 += t[i];
    if (!(i >= 1 && t[i] == t[i - 1])) one += t[i];
  }
  if (vocab && vocab->count(two)) return two;
  if (vocab && vocab->count(run1)) return run1;
  if (vocab && vocab->count(one)) return one;
  return run1;
}

}  // namespace

std::string squeeze(std::string_view t) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i)
    if (i == 0 || t[i] != t[i - 1]) out += t[i];
  return out;
}

NormalizedPrompt normalize_with(std::string_view prompt, const std::unordered_set<std::string>* vocab) {
  // 1. Code points to folded ASCII.
  std::string s;
  s.reserve(prompt.size());
  for (size_t i = 0; i < prompt.size();) {
    const char c = fold(decode(prompt, i));
    if (c) s += c;
  }
  // 2. Chunks between separators (anything but letters, digits, joiners and leet symbols).
  std::vector<std::string> raw;
  std::string cur;
  for (char c : s) {
    if (is_alnum(c) || is_joiner(c) || is_leet_symbol(c)) {
      cur += c;
    } else if (!cur.empty()) {
      raw.push_back(std::move(cur)), cur.clear();
    }
  }
  if (!cur.empty()) raw.push_back(std::move(cur));
  std::vector<std::string> tokens;
  for (std::string& r : raw) {
    std::string t = clean_chunk(std::move(r));
    if (!t.empty()) tokens.push_back(squash_runs(t, vocab));
  }
  // 3. Rejoin runs of 3+ single letters: "n u d e" -> "nude" (keeping "a"/"i" apart when the
  //    rest is a known word: "a n u d e" -> "a nude").
  NormalizedPrompt out;
  for (size_t i = 0; i < tokens.size();) {
    size_t j = i;
    while (j < tokens.size() && tokens[j].size() == 1 && is_alpha(tokens[j][0])) ++j;
    if (j - i < 3) {
      out.tokens.push_back(tokens[i]);
      ++i;
      continue;
    }
    std::string joined;
    for (size_t k = i; k < j; ++k) joined += tokens[k];
    joined = squash_runs(joined, vocab);
    // Only "a"/"i" + a listed word is split: splitting further guesses wrong ("t h e r a p i s t"
    // is not "the rapist").
    std::vector<std::string> words = {joined};
    if (vocab && (joined[0] == 'a' || joined[0] == 'i') && !vocab->count(joined) && vocab->count(joined.substr(1)))
      words = {joined.substr(0, 1), joined.substr(1)};
    for (std::string& w : words) out.tokens.push_back(std::move(w));
    i = j;
  }
  return out;
}

}  // namespace kinema::safety

namespace kinema {

std::string NormalizedPrompt::text() const {
  std::string t;
  for (const std::string& w : tokens) t += (t.empty() ? "" : " ") + w;
  return t;
}

NormalizedPrompt normalize_prompt(std::string_view prompt) {
  return safety::normalize_with(prompt, &safety::builtin_vocabulary());
}

}  // namespace kinema
