// `kinema text ...`: train kinema's tokenizer on the world's captions, and show how a prompt
// tokenizes.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "commands.hpp"
#include "kinema/error.hpp"
#include "kinema/tokenizer.hpp"
#include "kinema/world.hpp"

namespace kinema::cli {
namespace {

const char* kTextHelp =
    "usage:\n"
    "  kinema text train-tokenizer [--out models/default/tokenizer.model] [--scenes 4000]\n"
    "                              [--seed 1] [--vocab 2048] [--words data/world/nearest.tsv]\n"
    "      sample world scenes seed .. seed+scenes-1; train a unigram sentencepiece model on\n"
    "      each scene's detailed caption and short prompt, plus the words that prompt expansion\n"
    "      maps through word vectors (first column of --words), one per line (deterministic)\n"
    "  kinema text encode \"prompt\" [--model models/default/tokenizer.model]\n"
    "      print the prompt's pieces and ids\n";

const char* kDefaultModel = "models/default/tokenizer.model";

// A short user-style prompt that uses `word` in its grammatical role.
std::string prompt_with(const std::string& word, const std::string& role) {
  if (role == "color") return "a " + word + " circle moves right";
  if (role == "shape") return "a small red " + word + " falls";
  if (role == "size") return "a " + word + " blue square bounces";
  if (role == "verb") return "a green star " + word;
  if (role == "dir") return "a yellow triangle moves " + word;
  if (role == "background") return "a purple heart on the " + word;
  return word;
}

int train(int argc, char** argv) {
  std::string out = kDefaultModel, words = "data/world/nearest.tsv";
  int scenes = 4000;
  uint64_t seed = 1;
  TokenizerTrainOptions options;
  // The world's language is small: with 4000 scenes and the mapped words, sentencepiece finds
  // about 2,400 candidate pieces, so 2048 keeps the pieces it scores highest.
  options.vocab_size = 2048;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      check(i + 1 < argc, "text", "option ", a, " needs a value");
      return argv[++i];
    };
    if (a == "--out") out = value();
    else if (a == "--scenes") scenes = std::atoi(value().c_str());
    else if (a == "--seed") seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--words") words = value();
    else if (a == "--vocab") options.vocab_size = std::atoi(value().c_str());
    else fail("text", "unknown option '", a, "'\n", kTextHelp);
  }
  check(scenes > 0, "text", "--scenes must be positive; got ", scenes);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> corpus;
  for (int i = 0; i < scenes; ++i) {
    world::Scene s = world::sample_scene(seed + uint64_t(i));
    corpus.push_back(world::detailed_caption(s, seed + uint64_t(i)));
    corpus.push_back(world::short_prompt(s, seed + uint64_t(i)));
  }
  // Words users type that the world's captions never use ("crimson", "colossal"): the prompt
  // grammar understands them, so the vocabulary should spell them in few pieces.
  std::ifstream wf(words);
  check(wf.good(), "text", "cannot open word list ", words, " (run from the repository root or pass --words)");
  for (std::string line; std::getline(wf, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t'), tab2 = line.find('\t', tab + 1);
    std::string word = line.substr(0, tab), role = line.substr(tab2 + 1, line.find('\t', tab2 + 1) - tab2 - 1);
    corpus.push_back(word);
    corpus.push_back(prompt_with(word, role));
  }
  auto t1 = std::chrono::steady_clock::now();
  std::string model = train_tokenizer(corpus, options);
  auto t2 = std::chrono::steady_clock::now();
  std::filesystem::path p(out);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::ofstream f(out, std::ios::binary);
  check(f.good(), "text", "cannot write ", out);
  f.write(model.data(), std::streamsize(model.size()));
  check(f.good(), "text", "cannot write ", out);
  std::printf("%s: vocab %d, %zu bytes; %zu sentences (captions %.2f s, training %.2f s)\n",
              out.c_str(), options.vocab_size, model.size(), corpus.size(),
              std::chrono::duration<double>(t1 - t0).count(),
              std::chrono::duration<double>(t2 - t1).count());
  return 0;
}

int encode(int argc, char** argv) {
  std::string model = kDefaultModel, prompt;
  bool have_prompt = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--model" && i + 1 < argc) model = argv[++i];
    else if (a[0] != '-' && !have_prompt) prompt = a, have_prompt = true;
    else fail("text", "unknown option '", a, "'\n", kTextHelp);
  }
  check(have_prompt, "text", "encode needs a prompt\n", kTextHelp);
  Tokenizer t = Tokenizer::load(model);
  std::vector<int32_t> ids = t.encode(prompt);
  for (int32_t id : ids) std::printf("%6d  %s\n", id, t.piece(id).c_str());
  std::printf("%zu tokens; decodes to: %s\n", ids.size(), t.decode(ids).c_str());
  return 0;
}

}  // namespace

int cmd_text(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::printf("%s", kTextHelp);
    return argc < 2 ? 2 : 0;
  }
  std::string sub = argv[1];
  if (sub == "train-tokenizer") return train(argc - 1, argv + 1);
  if (sub == "encode") return encode(argc - 1, argv + 1);
  fail("text", "unknown subcommand '", sub, "'\n", kTextHelp);
}

}  // namespace kinema::cli
