// A tokenizer.json from a sentencepiece model (see hf_tokenizer_json.hpp): the inverse of
// what Tokenizer::load does with such a file, written from the two formats' documentation.
#include "hf_tokenizer_json.hpp"

#include <nlohmann/json.hpp>

#include "kinema/error.hpp"
#include "models/text/sentencepiece_proto.hpp"

namespace kinema::test {
namespace {

using json = nlohmann::json;
namespace proto = text::proto;
const char* const kMeta = "\xe2\x96\x81";

std::string base64(const std::string& bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    out += k[(v >> 18) & 63], out += k[(v >> 12) & 63], out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += k[(v >> 18) & 63], out += k[(v >> 12) & 63], out += k[(v >> 6) & 63], out += '=';
  }
  return out;
}

json replace_spaces(const char* content) {
  return {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", content}};
}

}  // namespace

std::string hf_json_from_sentencepiece(const std::string& model, HfJsonStyle style) {
  json vocab = json::array(), added = json::array();
  int64_t unk_id = 0, eos_id = -1;
  bool byte_fallback = false;
  std::string charsmap, eos = "</s>";
  for (const proto::Field& f : proto::read_fields(model)) {
    if (f.number == proto::field::kModelPieces) {
      std::string piece;
      float score = 0;
      int type = 1;
      for (const proto::Field& g : proto::read_fields(f.bytes)) {
        if (g.number == proto::field::kPiece) piece = std::string(g.bytes);
        if (g.number == proto::field::kPieceScore) score = proto::as_float(g);
        if (g.number == proto::field::kPieceType) type = int(g.value);
      }
      const int64_t id = int64_t(vocab.size());
      vocab.push_back({piece, double(score)});
      if (type == int(proto::PieceType::unknown)) unk_id = id;
      if (piece == eos) eos_id = id;
      if (type == int(proto::PieceType::control) || type == int(proto::PieceType::unknown) ||
          type == int(proto::PieceType::user_defined))
        added.push_back({{"id", id}, {"content", piece}, {"single_word", false}, {"lstrip", false},
                         {"rstrip", false}, {"normalized", false},
                         {"special", type != int(proto::PieceType::user_defined)}});
    } else if (f.number == proto::field::kModelTrainerSpec) {
      for (const proto::Field& g : proto::read_fields(f.bytes))
        if (g.number == proto::field::kTrainerByteFallback) byte_fallback = g.value != 0;
    } else if (f.number == proto::field::kModelNormalizerSpec) {
      for (const proto::Field& g : proto::read_fields(f.bytes))
        if (g.number == proto::field::kNormCharsmap) charsmap = std::string(g.bytes);
    }
  }
  check(eos_id >= 0, "test", "the sentencepiece model has no </s> piece");
  json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = added;
  const json precompiled = {{"type", "Precompiled"}, {"precompiled_charsmap", base64(charsmap)}};
  switch (style) {
    case HfJsonStyle::t5:
      root["normalizer"] = {{"type", "Sequence"}, {"normalizers", {precompiled, replace_spaces(" ")}}};
      root["pre_tokenizer"] = {{"type", "Sequence"},
                               {"pretokenizers", {{{"type", "WhitespaceSplit"}},
                                                  {{"type", "Metaspace"}, {"replacement", kMeta}, {"add_prefix_space", true}}}}};
      break;
    case HfJsonStyle::modern:
      root["normalizer"] = {{"type", "Sequence"},
                            {"normalizers", {precompiled, {{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}},
                                             replace_spaces(kMeta)}}};
      root["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "always"}, {"split", true}};
      break;
    case HfJsonStyle::nfkc:
      root["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFKC"}}, replace_spaces(" ")}}};
      root["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"add_prefix_space", true}};
      break;
  }
  const json seq = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  const json tok = {{"SpecialToken", {{"id", eos}, {"type_id", 0}}}};
  root["post_processor"] = {{"type", "TemplateProcessing"}, {"single", {seq, tok}},
                            {"pair", {seq, tok, {{"Sequence", {{"id", "B"}, {"type_id", 0}}}}, tok}},
                            {"special_tokens", {{eos, {{"id", eos}, {"ids", {eos_id}}, {"tokens", {eos}}}}}}};
  root["decoder"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"add_prefix_space", true}};
  root["model"] = {{"type", "Unigram"}, {"unk_id", unk_id}, {"vocab", vocab}, {"byte_fallback", byte_fallback}};
  return root.dump(2);
}

}  // namespace kinema::test
