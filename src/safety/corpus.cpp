// The labelled prompt set the classifier learns from and is measured on, generated from
// data/safety/prompts.txt: slot lists ($NAME = a | b, with $NAME.train / $NAME.heldout variants
// that only one split sees) and templates ("train violence: {PERSON} {GORE!} ..."), each split
// with its own templates. A key slot ({NAME!}) may be obfuscated the ways people hide words.
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "kinema/error.hpp"
#include "safety_internal.hpp"

namespace kinema {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) out += char(cp);
  else if (cp < 0x800) out += char(0xC0 | (cp >> 6)), out += char(0x80 | (cp & 0x3F));
  else out += char(0xE0 | (cp >> 12)), out += char(0x80 | ((cp >> 6) & 0x3F)), out += char(0x80 | (cp & 0x3F));
}

uint32_t lookalike(char c) {
  switch (c) {
    case 'a': return 0x0430; case 'e': return 0x0435; case 'o': return 0x043E; case 'p': return 0x0440;
    case 'c': return 0x0441; case 'x': return 0x0445; case 'y': return 0x0443; case 'i': return 0x0456;
    case 's': return 0x0455; case 'k': return 0x03BA; case 't': return 0x03C4; case 'v': return 0x03BD;
    default: return 0;
  }
}

char leet_of(char c, std::mt19937_64& rng) {
  switch (c) {
    case 'a': return rng() % 2 ? '4' : '@'; case 'e': return '3'; case 'i': return '1'; case 'o': return '0';
    case 's': return rng() % 2 ? '5' : '$'; case 't': return '7'; default: return c;
  }
}

// One of the ways people hide a word from a filter, applied to one word.
std::string obfuscate_word(const std::string& w, std::mt19937_64& rng) {
  std::string out;
  switch (rng() % 8) {
    case 0:  // spacing: "n u d e"
      for (size_t i = 0; i < w.size(); ++i) out += (i ? " " : "") + std::string(1, w[i]);
      return out;
    case 1: {  // inserted punctuation: "n.u.d.e", "n-u-d-e", "n_u_d_e"
      const char sep = ".-_*"[rng() % 4];
      for (size_t i = 0; i < w.size(); ++i) out += (i ? std::string(1, sep) : "") + std::string(1, w[i]);
      return out;
    }
    case 2: {  // leetspeak
      bool any = false;
      for (char c : w) {
        const char l = rng() % 3 ? leet_of(c, rng) : c;
        any |= l != c, out += l;
      }
      if (!any)
        for (char& c : out)
          if (leet_of(c, rng) != c) { c = leet_of(c, rng); break; }
      return out;
    }
    case 3: {  // homoglyphs: Cyrillic/Greek look-alikes
      for (char c : w) {
        const uint32_t g = lookalike(c);
        if (g && rng() % 2) append_utf8(out, g);
        else out += c;
      }
      return out;
    }
    case 4:  // fullwidth forms
      for (char c : w) append_utf8(out, (c >= '!' && c <= '~') ? uint32_t(c) + 0xFEE0 : uint32_t(c));
      return out;
    case 5:  // zero-width characters inside
      for (size_t i = 0; i < w.size(); ++i) {
        out += w[i];
        if (i + 1 < w.size() && rng() % 2) append_utf8(out, rng() % 2 ? 0x200B : 0x200D);
      }
      return out;
    case 6: {  // repeated letters
      const size_t k = rng() % w.size();
      for (size_t i = 0; i < w.size(); ++i) out += i == k ? std::string(3 + rng() % 3, w[i]) : std::string(1, w[i]);
      return out;
    }
    default:  // case
      for (char c : w) out += rng() % 2 ? char(std::toupper(static_cast<unsigned char>(c))) : c;
      return out;
  }
}

// Obfuscates the longest word (of 3+ letters) of a slot value.
std::string obfuscate(const std::string& value, std::mt19937_64& rng) {
  std::istringstream in(value);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  size_t best = words.size();
  for (size_t i = 0; i < words.size(); ++i)
    if (words[i].size() >= 3 && (best == words.size() || words[i].size() > words[best].size())) best = i;
  if (best == words.size()) return value;
  words[best] = obfuscate_word(words[best], rng);
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

struct Templates {
  std::map<std::string, std::vector<std::string>> slots;
  std::vector<std::pair<SafetyCategory, std::string>> templates;
};

std::vector<std::string> split_bar(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string v; std::getline(in, v, '|');)
    if (!trim(v).empty()) out.push_back(trim(v));
  return out;
}

Templates read_templates(const std::string& path, CorpusSplit split) {
  std::ifstream in(path);
  check(bool(in), "safety corpus", "cannot open '", path, "'");
  const std::string mine = split == CorpusSplit::train ? "train" : "heldout";
  Templates t;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '$') {
      const size_t eq = line.find('=');
      check(eq != std::string::npos, "safety corpus", path, ":", no, ": a slot line needs '='");
      const bool append = eq > 0 && line[eq - 1] == '+';
      std::string name = trim(line.substr(1, eq - 1 - (append ? 1 : 0)));
      const size_t dot = name.find('.');
      if (dot != std::string::npos) {
        if (name.substr(dot + 1) != mine) continue;
        name = name.substr(0, dot);
      }
      auto& v = t.slots[name];
      for (auto& x : split_bar(line.substr(eq + 1))) v.push_back(x);
      continue;
    }
    const size_t colon = line.find(':'), space = line.find(' ');
    check(colon != std::string::npos && space < colon, "safety corpus", path, ":", no,
          ": expected 'train|heldout LABEL: template'");
    if (line.substr(0, space) != mine) continue;
    t.templates.emplace_back(category_from_name(trim(line.substr(space + 1, colon - space - 1))),
                             trim(line.substr(colon + 1)));
  }
  return t;
}

std::string expand(const std::string& tpl, const Templates& t, std::mt19937_64& rng, double obf, bool& obfuscated,
                   int depth) {
  check(depth < 5, "safety corpus", "slots nest too deep in '", tpl, "'");
  std::string out;
  for (size_t i = 0; i < tpl.size();) {
    if (tpl[i] != '{') {
      out += tpl[i++];
      continue;
    }
    const size_t e = tpl.find('}', i);
    check(e != std::string::npos, "safety corpus", "unclosed '{' in '", tpl, "'");
    std::string name = tpl.substr(i + 1, e - i - 1);
    const bool key = !name.empty() && name.back() == '!';
    if (key) name.pop_back();
    auto it = t.slots.find(name);
    check(it != t.slots.end() && !it->second.empty(), "safety corpus", "unknown slot {", name, "} in '", tpl, "'");
    std::string v = expand(it->second[rng() % it->second.size()], t, rng, obf, obfuscated, depth + 1);
    if (key && std::uniform_real_distribution<double>(0, 1)(rng) < obf) v = obfuscate(v, rng), obfuscated = true;
    out += v;
    i = e + 1;
  }
  return out;
}

}  // namespace

std::vector<LabelledPrompt> generate_prompt_corpus(const std::string& templates_path, const CorpusOptions& o) {
  const Templates t = read_templates(templates_path, o.split);
  std::mt19937_64 rng(o.seed * 7919 + (o.split == CorpusSplit::heldout ? 1 : 0));
  std::vector<LabelledPrompt> out;
  for (const auto& [label, tpl] : t.templates)
    for (int k = 0; k < o.per_template; ++k) {
      LabelledPrompt p;
      p.label = label;
      p.text = expand(tpl, t, rng, o.obfuscate, p.obfuscated, 0);
      if (std::uniform_real_distribution<double>(0, 1)(rng) < 0.3 && !p.text.empty())
        p.text[0] = char(std::toupper(static_cast<unsigned char>(p.text[0])));
      out.push_back(std::move(p));
    }
  return out;
}

}  // namespace kinema
