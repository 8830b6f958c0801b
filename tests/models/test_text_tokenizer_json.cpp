// Hugging Face tokenizer.json (Unigram): a file written from one of our sentencepiece models
// gives the sentencepiece path's ids on a few hundred varied texts, in each layout the
// tokenizers library writes; files kinema cannot read are Errors that say what is supported.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "error_of.hpp"
#include "hf_tokenizer_json.hpp"
#include "kinema/error.hpp"
#include "kinema/tokenizer.hpp"
#include "text_test_util.hpp"

namespace kinema::test {
namespace {
namespace fs = std::filesystem;

const std::string kModel = std::string(KINEMA_SOURCE_DIR) + "/models/default/tokenizer.model";

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Unicode, digits and odd whitespace; `plain` leaves out tabs, newlines, control characters,
// zero-width spaces and "▁" itself (which sentencepiece's nmt_nfkc removes or maps to spaces and
// NFKC keeps).
std::vector<std::string> varied_texts(bool plain) {
  std::vector<std::string> t = {
      "", " ", "a", "a red circle moves right", "  a  red   circle  ", "A RED CIRCLE", "a red circle.",
      "über Zürich, naïve café — “quoted” ‘text’", "東京の夜空に青い星", "один красный круг", "دائرة حمراء",
      "🐉🔴🟦 and 👩‍👩‍👧 emoji", "ﬁ ligature, Ⅻ numeral, ① circled, ＡＢＣ full width, ｶﾀｶﾅ half width",
      "e\xcc\x81 combining acute vs \xc3\xa9", "0 1 2 3 4 5 6 7 8 9 10 100 1000 3.14159 -42 1e10 0x1F",
      "１２３ full-width digits", "3:45 pm on 2024-02-29, 50% off, #1, $9.99, ½ cup", "a\u00a0non-breaking space",
      "ideographic\u3000space", "<pad> </s> <unk> are pieces", "<0x41> byte lookalike",
      "x", "xx", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "a, b; c: d! e? f... g-h_i/j\\k|l(m)[n]{o}", "'single' \"double\" `back`", "Ωmega αβγ ∑∫√∞ ≠ ≤ ≥"};
  if (!plain) {
    for (const char* s : {"tab\tseparated\twords", "new\nline", "\r\nwindows line\r\n", "  \t  leading", "trailing \t ",
                          "bell\x07 and escape\x1b[0m", "nul-free \x01\x02\x03 controls", "\t", "\n\n\n",
                          "zero\u200bwidth", "▁already▁escaped"})
      t.push_back(s);
  }
  // Random mixes of the fragments above and words.
  std::mt19937 rng(7);
  const std::vector<std::string> parts = {"red", " ", "  ", "circle", "東京", "🐉", "12", "３", "é", "ﬁ", ",", "moves",
                                          "left", "\u00a0", "Zürich", "-", ".", "the", "night", "sky"};
  for (int i = 0; i < 60; ++i) {
    std::string s;
    const int n = 1 + int(rng() % 12);
    for (int j = 0; j < n; ++j) s += parts[rng() % parts.size()];
    t.push_back(s);
  }
  return t;
}

void expect_same_ids(const Tokenizer& spm, const Tokenizer& hf, const std::vector<std::string>& texts) {
  for (const std::string& text : texts) {
    ASSERT_EQ(spm.encode(text), hf.encode(text)) << "text: \"" << text << "\"";
    ASSERT_EQ(spm.encode_pieces(text), hf.encode_pieces(text)) << "text: \"" << text << "\"";
  }
}

std::vector<std::string> all_texts(bool plain) {
  std::vector<std::string> texts = world_captions(100, 700000);  // 200 captions and prompts
  for (std::string& s : varied_texts(plain)) texts.push_back(std::move(s));
  return texts;
}

TEST(TokenizerJson, SameIdsAsTheSentencepieceModel) {
  const std::string model = read_file(kModel);
  const Tokenizer spm = Tokenizer::from_bytes(model);
  const std::vector<std::string> texts = all_texts(false);
  for (HfJsonStyle style : {HfJsonStyle::t5, HfJsonStyle::modern}) {
    const Tokenizer hf = Tokenizer::from_bytes(hf_json_from_sentencepiece(model, style));
    EXPECT_EQ(hf.vocab_size(), spm.vocab_size());
    EXPECT_EQ(hf.pad_id(), spm.pad_id());
    EXPECT_EQ(hf.eos_id(), spm.eos_id());
    EXPECT_EQ(hf.unk_id(), spm.unk_id());
    expect_same_ids(spm, hf, texts);
    EXPECT_EQ(hf.decode(hf.encode(texts[0])), spm.decode(spm.encode(texts[0])));
  }
  std::printf("  %zu texts, ids equal in both layouts\n", texts.size());
}

TEST(TokenizerJson, ModelWithoutByteFallback) {
  TokenizerTrainOptions options;
  options.vocab_size = 300;
  options.byte_fallback = false;
  const std::string model = train_tokenizer(world_captions(150, 1), options);
  const Tokenizer spm = Tokenizer::from_bytes(model);
  const Tokenizer hf = Tokenizer::from_bytes(hf_json_from_sentencepiece(model));
  expect_same_ids(spm, hf, all_texts(false));
  const std::vector<int32_t> ids = hf.encode("🐉");  // no byte pieces: unknown
  EXPECT_NE(std::find(ids.begin(), ids.end(), hf.unk_id()), ids.end());
}

TEST(TokenizerJson, NfkcNormalizerOnPlainTexts) {
  const std::string model = read_file(kModel);
  const Tokenizer spm = Tokenizer::from_bytes(model);
  const Tokenizer hf = Tokenizer::from_bytes(hf_json_from_sentencepiece(model, HfJsonStyle::nfkc));
  expect_same_ids(spm, hf, all_texts(true));
}

TEST(TokenizerJson, LoadsByContentFromAFile) {
  const fs::path dir = fs::temp_directory_path() / ("kinema-tokjson-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path json = dir / "tokenizer.json", named_model = dir / "tokenizer.model";
  std::ofstream(json) << hf_json_from_sentencepiece(read_file(kModel));
  std::ofstream(named_model) << hf_json_from_sentencepiece(read_file(kModel));  // the name does not matter
  const Tokenizer spm = Tokenizer::load(kModel);
  for (const fs::path& p : {json, named_model}) {
    const Tokenizer hf = Tokenizer::load(p.string());
    EXPECT_EQ(hf.encode("a red circle moves right"), spm.encode("a red circle moves right"));
    // serialized() is the sentencepiece model the file describes: it loads as one.
    EXPECT_EQ(Tokenizer::from_bytes(hf.serialized()).encode("über 東京"), spm.encode("über 東京"));
  }
  fs::remove_all(dir);
}

// A Unigram file with three special pieces and the given changes.
std::string small_json(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = nlohmann::json::parse(hf_json_from_sentencepiece(read_file(kModel)));
  edit(j);
  return j.dump();
}

TEST(TokenizerJson, HostileFilesSayWhatIsSupported) {
  using nlohmann::json;
  struct Case {
    const char* name;
    std::string bytes;
    std::vector<const char*> expect;
  };
  const std::vector<Case> cases = {
      {"not json", "{ this is not json", {"not valid JSON", "Unigram tokenizer.json"}},
      {"no model", "{\"version\": \"1.0\"}", {"without a \"model\" object"}},
      {"bpe", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
       {"model type is \"BPE\"", "kinema reads Unigram tokenizer.json files", "sentencepiece .model"}},
      {"wordpiece", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}}", {"model type is \"WordPiece\""}},
      {"missing vocab", small_json([](json& j) { j["model"].erase("vocab"); }), {"has no vocab"}},
      {"empty vocab", small_json([](json& j) { j["model"]["vocab"] = json::array(); }), {"has no vocab"}},
      {"huge unk_id", small_json([](json& j) { j["model"]["unk_id"] = 1000000000000LL; }), {"unk_id 1000000000000 is outside the vocab"}},
      {"negative unk_id", small_json([](json& j) { j["model"]["unk_id"] = -1; }), {"unk_id -1 is outside the vocab"}},
      {"null unk_id", small_json([](json& j) { j["model"]["unk_id"] = nullptr; }), {"needs an unknown piece"}},
      {"string unk_id", small_json([](json& j) { j["model"]["unk_id"] = "2"; }), {"unk_id is \"2\""}},
      {"bad entry", small_json([](json& j) { j["model"]["vocab"][5] = json::array({"x"}); }), {"vocab entry 5", "[piece, score]"}},
      {"duplicate", small_json([](json& j) { j["model"]["vocab"][7][0] = j["model"]["vocab"][6][0]; }), {"appears twice in the vocab (ids 6 and 7)"}},
      {"infinite score", small_json([](json& j) { j["model"]["vocab"][9][1] = 1e300; }), {"finite log-probability"}},
      {"empty piece", small_json([](json& j) { j["model"]["vocab"][9][0] = ""; }), {"vocab entry 9 is an empty piece"}},
      {"missing bytes", small_json([](json& j) {
         for (json& e : j["model"]["vocab"]) if (e[0] == "<0x41>") e[0] = "not-a-byte";
       }), {"255 of the 256 byte pieces"}},
      {"lowercase", small_json([](json& j) { j["normalizer"] = {{"type", "Lowercase"}}; }), {"normalizer \"Lowercase\" is not supported", "Precompiled"}},
      {"bytelevel", small_json([](json& j) { j["pre_tokenizer"] = {{"type", "ByteLevel"}}; }), {"pre_tokenizer \"ByteLevel\" is not supported", "Metaspace"}},
      {"metaspace char", small_json([](json& j) { j["pre_tokenizer"]["pretokenizers"][1]["replacement"] = "_"; }), {"Metaspace replacement \"_\""}},
      {"bert post", small_json([](json& j) { j["post_processor"] = {{"type", "BertProcessing"}}; }), {"post_processor \"BertProcessing\"", "TemplateProcessing"}},
      {"bos template", small_json([](json& j) { auto s = j["post_processor"]["single"]; j["post_processor"]["single"] = json::array({s[1], s[0]}); }),
       {"puts a token before the text"}},
      {"bad base64", small_json([](json& j) { j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "!!!"; }), {"not base64"}},
      {"added mismatch", small_json([](json& j) { j["added_tokens"][0]["content"] = "<other>"; }), {"added token 0 is \"<other>\" but the vocab has \"<pad>\""}},
      {"added gap", small_json([](json& j) {
         j["added_tokens"].push_back({{"id", j["model"]["vocab"].size() + 5}, {"content", "<extra>"}, {"special", true}});
       }), {"without gaps"}},
  };
  const fs::path path = fs::temp_directory_path() / ("kinema-tokjson-bad-" + std::to_string(::getpid()) + ".json");
  for (const Case& c : cases) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << c.bytes;
    const std::string e = error_of([&] { Tokenizer::load(path.string()); });
    for (const char* want : c.expect) EXPECT_NE(e.find(want), std::string::npos) << c.name << ": " << e;
    EXPECT_NE(e.find(path.string()), std::string::npos) << c.name << ": " << e;
  }
  fs::remove(path);
}

}  // namespace
}  // namespace kinema::test
