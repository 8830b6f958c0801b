// Nearest-vocabulary-word lookup for words outside the grammar, from the shipped table
// data/world/nearest.tsv (converted from GloVe 6B 100d by scripts/world-wordvec.js).
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "world/wordmap.hpp"

namespace kinema::world {
namespace {

std::string table_path() {
  if (const char* d = std::getenv("KINEMA_WORLD_DATA")) return std::string(d) + "/nearest.tsv";
#ifdef KINEMA_WORLD_DATA_DIR
  return std::string(KINEMA_WORLD_DATA_DIR) + "/nearest.tsv";
#else
  return "data/world/nearest.tsv";
#endif
}

struct Table {
  std::map<std::string, NearestWord> words;
  bool loaded = false;
};

const Table& table() {
  static Table t;
  static std::once_flag once;
  std::call_once(once, [] {
    std::ifstream f(table_path());
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string w;
      NearestWord n;
      if (std::getline(ls, w, '\t') && std::getline(ls, n.word, '\t') && std::getline(ls, n.role, '\t') && (ls >> n.cosine))
        t.words[w] = n;
    }
    t.loaded = !t.words.empty();
  });
  return t;
}

}  // namespace

std::optional<NearestWord> nearest_word(const std::string& word) {
  const Table& t = table();
  const auto it = t.words.find(word);
  if (it == t.words.end()) return std::nullopt;
  return it->second;
}

size_t nearest_table_size() { return table().words.size(); }

}  // namespace kinema::world
