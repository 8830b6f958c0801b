// Hugging Face tokenizer.json (Unigram) -> sentencepiece ModelProto; see tokenizer_json.hpp.
#include "models/text/tokenizer_json.hpp"

#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "kinema/error.hpp"
#include "models/text/sentencepiece_proto.hpp"

namespace kinema::text {
namespace {

using json = nlohmann::json;
using proto::PieceType;
constexpr const char* kWhere = "tokenizer.json";
constexpr const char* kMeta = "\xe2\x96\x81";  // "▁", sentencepiece's whitespace
constexpr size_t kMaxPieces = size_t(1) << 24;  // 16M pieces; umT5 has 256k
constexpr const char* kSupported =
    "kinema reads Unigram tokenizer.json files (T5, umT5 and other sentencepiece conversions) and "
    "sentencepiece .model files";

struct Piece {
  std::string text;
  float score = 0;
  PieceType type = PieceType::normal;
};

// What the tokenizer.json asks for, in sentencepiece's terms.
struct Spec {
  std::vector<Piece> pieces;
  std::string unk_piece, eos_piece = "</s>", pad_piece = "<pad>";
  bool byte_fallback = false;
  std::string norm_name = "identity", charsmap;
  bool add_dummy_prefix = false, remove_extra_whitespaces = false, escape_whitespaces = false;
  bool whitespace_split = false, strip = false, prefix_first_only = false;
};

std::string type_of(const json& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return "";
  return j["type"].get<std::string>();
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding, as tokenizers serialises the Precompiled charsmap.
std::string base64_decode(const std::string& text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] != '='; ++i) {
    const int v = base64_value(text[i]);
    KINEMA_CHECK(v >= 0, kWhere, "Precompiled normalizer: precompiled_charsmap is not base64 (byte ", i,
                 " is '", text[i], "')");
    acc = (acc << 6) | uint32_t(v), bits += 6;
    if (bits >= 8) bits -= 8, out += char((acc >> bits) & 0xff);
  }
  for (; i < text.size(); ++i)
    KINEMA_CHECK(text[i] == '=', kWhere, "Precompiled normalizer: precompiled_charsmap has data after its padding");
  return out;
}

// sentencepiece's built-in "nfkc" table: the trainer writes it into every model it trains with
// that rule, so a one-sentence character model hands it over (once; it is a constant).
const std::string& nfkc_charsmap() {
  static const std::string table = [] {
    class One : public sentencepiece::SentenceIterator {
     public:
      bool done() const override { return done_; }
      void Next() override { done_ = true; }
      const std::string& value() const override { return text_; }
      sentencepiece::util::Status status() const override { return {}; }

     private:
      std::string text_ = "abc";
      bool done_ = false;
    } one;
    const std::unordered_map<std::string, std::string> args = {
        {"model_type", "char"}, {"vocab_size", "8"}, {"hard_vocab_limit", "false"},
        {"normalization_rule_name", "nfkc"}, {"num_threads", "1"}, {"minloglevel", "2"}};
    std::string model;
    auto status = sentencepiece::SentencePieceTrainer::Train(args, &one, &model);
    KINEMA_CHECK(status.ok(), kWhere, "cannot build sentencepiece's nfkc table: ", status.ToString());
    for (const proto::Field& f : proto::read_fields(model))
      if (f.number == proto::field::kModelNormalizerSpec)
        for (const proto::Field& g : proto::read_fields(f.bytes))
          if (g.number == proto::field::kNormCharsmap) return std::string(g.bytes);
    fail(kWhere, "sentencepiece's nfkc rule has no table");
  }();
  return table;
}

void read_normalizer(const json& n, Spec& s) {
  if (n.is_null()) return;
  const std::string type = type_of(n);
  if (type == "Sequence") {
    KINEMA_CHECK(n.contains("normalizers") && n["normalizers"].is_array(), kWhere,
                 "normalizer Sequence has no \"normalizers\" list");
    for (const json& m : n["normalizers"]) read_normalizer(m, s);
  } else if (type == "Precompiled" || type == "NFKC") {
    KINEMA_CHECK(s.charsmap.empty(), kWhere, "the normalizer holds two character maps (", type,
                 " after another); expected one Precompiled or NFKC");
    if (type == "NFKC") {
      s.charsmap = nfkc_charsmap(), s.norm_name = "nfkc";
    } else {
      const json& c = n.contains("precompiled_charsmap") ? n["precompiled_charsmap"] : json();
      KINEMA_CHECK(c.is_null() || c.is_string(), kWhere,
                   "Precompiled normalizer: precompiled_charsmap must be a base64 string or null");
      if (c.is_string()) s.charsmap = base64_decode(c.get<std::string>()), s.norm_name = "precompiled";
    }
  } else if (type == "Replace") {
    const json& p = n.contains("pattern") ? n["pattern"] : json();
    const std::string content = n.contains("content") && n["content"].is_string() ? n["content"].get<std::string>() : "";
    if (p.is_object() && p.contains("Regex") && p["Regex"] == " {2,}" && (content == " " || content == kMeta))
      s.remove_extra_whitespaces = true;  // runs of spaces collapse
    else if (p.is_object() && p.contains("String") && p["String"] == " " && content == kMeta)
      s.escape_whitespaces = true;
    else
      fail(kWhere, "normalizer Replace ", p.dump(), " -> ", json(content).dump(),
           " has no sentencepiece equivalent; supported: Replace of {\"Regex\": \" {2,}\"} (runs of spaces) "
           "and of {\"String\": \" \"} by \"\xe2\x96\x81\"");
  } else if (type == "Strip") {
    s.strip = true;
  } else if (type == "Prepend") {
    KINEMA_CHECK(n.contains("prepend") && n["prepend"] == kMeta, kWhere, "normalizer Prepend ",
                 n.value("prepend", json()).dump(), " is not supported; expected Prepend \"\xe2\x96\x81\"");
    s.add_dummy_prefix = true;
  } else {
    fail(kWhere, "normalizer ", type.empty() ? n.dump().substr(0, 80) : "\"" + type + "\"",
         " is not supported; supported: Precompiled, NFKC, Replace (runs of spaces), Strip, Prepend "
         "\"\xe2\x96\x81\", Sequence of these");
  }
}

void read_pre_tokenizer(const json& p, Spec& s) {
  if (p.is_null()) return;
  const std::string type = type_of(p);
  if (type == "Sequence") {
    KINEMA_CHECK(p.contains("pretokenizers") && p["pretokenizers"].is_array(), kWhere,
                 "pre_tokenizer Sequence has no \"pretokenizers\" list");
    for (const json& q : p["pretokenizers"]) read_pre_tokenizer(q, s);
  } else if (type == "WhitespaceSplit") {
    s.whitespace_split = true, s.remove_extra_whitespaces = true;
  } else if (type == "Metaspace") {
    const json& r = p.contains("replacement") ? p["replacement"] : json();
    KINEMA_CHECK(r == kMeta, kWhere, "Metaspace replacement ", r.dump(),
                 " is not supported; expected \"\xe2\x96\x81\" (U+2581), sentencepiece's whitespace");
    s.escape_whitespaces = true;
    if (p.contains("prepend_scheme") && p["prepend_scheme"].is_string()) {
      const std::string scheme = p["prepend_scheme"].get<std::string>();
      KINEMA_CHECK(scheme == "always" || scheme == "first" || scheme == "never", kWhere,
                   "Metaspace prepend_scheme \"", scheme, "\" is unknown; expected always, first or never");
      s.add_dummy_prefix = s.add_dummy_prefix || scheme != "never";
      s.prefix_first_only = scheme == "first";
    } else if (p.contains("add_prefix_space")) {
      KINEMA_CHECK(p["add_prefix_space"].is_boolean(), kWhere, "Metaspace add_prefix_space must be true or false");
      s.add_dummy_prefix = s.add_dummy_prefix || p["add_prefix_space"].get<bool>();
    } else {
      s.add_dummy_prefix = true;  // the tokenizers default
    }
  } else {
    fail(kWhere, "pre_tokenizer ", type.empty() ? p.dump().substr(0, 80) : "\"" + type + "\"",
         " is not supported; supported: Metaspace (\"\xe2\x96\x81\"), WhitespaceSplit, Sequence of these (", kSupported,
         ")");
  }
}

void read_vocab(const json& model, Spec& s) {
  const std::string type = type_of(model);
  KINEMA_CHECK(model.is_object(), kWhere, "has no \"model\" object; ", kSupported);
  KINEMA_CHECK(type == "Unigram" || (type.empty() && model.contains("unk_id")), kWhere, "model type is \"", type,
               "\"; ", kSupported, ". For a ", type.empty() ? "model of another kind" : type,
               " tokenizer, no kinema model uses it");
  KINEMA_CHECK(model.contains("vocab") && model["vocab"].is_array() && !model["vocab"].empty(), kWhere,
               "the Unigram model has no vocab (expected \"vocab\": [[piece, score], ...])");
  const json& vocab = model["vocab"];
  KINEMA_CHECK(vocab.size() <= kMaxPieces, kWhere, "vocab has ", vocab.size(), " pieces; at most ", kMaxPieces);
  std::unordered_map<std::string, size_t> seen;
  s.pieces.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) {
    const json& e = vocab[i];
    KINEMA_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_number(), kWhere, "vocab entry ", i,
                 " is ", e.dump().substr(0, 80), "; expected [piece, score]");
    Piece p{e[0].get<std::string>(), float(e[1].get<double>())};
    KINEMA_CHECK(!p.text.empty(), kWhere, "vocab entry ", i, " is an empty piece");
    KINEMA_CHECK(std::isfinite(p.score), kWhere, "vocab entry ", i, " (\"", p.text, "\") has score ",
                 e[1].dump(), "; expected a finite log-probability");
    auto [it, fresh] = seen.emplace(p.text, i);
    KINEMA_CHECK(fresh, kWhere, "piece \"", p.text, "\" appears twice in the vocab (ids ", it->second, " and ", i, ")");
    s.pieces.push_back(std::move(p));
  }
  const json& unk = model.contains("unk_id") ? model["unk_id"] : json();
  KINEMA_CHECK(unk.is_number_integer(), kWhere, "the Unigram model's unk_id is ", unk.dump(),
               "; sentencepiece needs an unknown piece: expected an id in [0, ", s.pieces.size(), ")");
  const int64_t unk_id = unk.get<int64_t>();
  KINEMA_CHECK(unk_id >= 0 && uint64_t(unk_id) < s.pieces.size(), kWhere, "unk_id ", unk.dump(),
               " is outside the vocab; expected an id in [0, ", s.pieces.size(), ")");
  s.pieces[size_t(unk_id)].type = PieceType::unknown;
  s.unk_piece = s.pieces[size_t(unk_id)].text;
  if (model.contains("byte_fallback") && !model["byte_fallback"].is_null()) {
    KINEMA_CHECK(model["byte_fallback"].is_boolean(), kWhere, "byte_fallback must be true or false");
    s.byte_fallback = model["byte_fallback"].get<bool>();
  }
}

// "<0x0A>": sentencepiece's byte pieces, two upper-case hex digits.
bool is_byte_piece(const std::string& t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

void read_added_tokens(const json& root, Spec& s) {
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return;
  KINEMA_CHECK(root["added_tokens"].is_array(), kWhere, "added_tokens must be a list");
  std::map<int64_t, Piece> extra;  // ids past the vocab, appended in order
  const size_t n = s.pieces.size();
  for (const json& a : root["added_tokens"]) {
    KINEMA_CHECK(a.is_object() && a.contains("id") && a["id"].is_number_integer() && a.contains("content") &&
                     a["content"].is_string(), kWhere, "added token ", a.dump().substr(0, 80),
                 " needs an integer \"id\" and a string \"content\"");
    const int64_t id = a["id"].get<int64_t>();
    const std::string content = a["content"].get<std::string>();
    const bool special = a.contains("special") && a["special"].is_boolean() && a["special"].get<bool>();
    KINEMA_CHECK(id >= 0 && uint64_t(id) < n + kMaxPieces, kWhere, "added token \"", content, "\" has id ", id,
                 "; expected an id in [0, ", n + kMaxPieces, ")");
    KINEMA_CHECK(!content.empty(), kWhere, "added token ", id, " is empty");
    if (uint64_t(id) < n) {
      Piece& p = s.pieces[size_t(id)];
      KINEMA_CHECK(p.text == content, kWhere, "added token ", id, " is \"", content, "\" but the vocab has \"",
                   p.text, "\" at that id");
      if (p.type != PieceType::unknown) p.type = special ? PieceType::control : PieceType::user_defined;
    } else {
      extra[id] = Piece{content, 0.f, special ? PieceType::control : PieceType::user_defined};
    }
  }
  for (auto& [id, p] : extra) {
    KINEMA_CHECK(uint64_t(id) == s.pieces.size(), kWhere, "added token \"", p.text, "\" has id ", id,
                 " but the ids after the vocab's ", n, " run only to ", s.pieces.size(),
                 "; added ids must continue the vocab without gaps");
    s.pieces.push_back(std::move(p));
  }
}

// The piece a post-processor appends becomes the eos piece; TemplateProcessing "$A </s>" is T5's.
void read_post_processor(const json& p, Spec& s) {
  if (p.is_null()) return;
  const std::string type = type_of(p);
  KINEMA_CHECK(type == "TemplateProcessing", kWhere, "post_processor \"", type,
               "\" is not supported; expected TemplateProcessing \"$A\" or \"$A </s>\" (T5's), or null");
  const json& single = p.contains("single") ? p["single"] : json();
  const std::string expected = "; expected the single template [$A] or [$A, TOKEN] (TOKEN, such as </s>, is "
                               "appended as the eos piece)";
  KINEMA_CHECK(single.is_array() && (single.size() == 1 || single.size() == 2), kWhere,
               "post_processor template ", single.dump().substr(0, 120), expected);
  KINEMA_CHECK(single[0].is_object() && single[0].contains("Sequence"), kWhere, "post_processor template ",
               single.dump().substr(0, 120), " puts a token before the text", expected);
  if (single.size() == 1) return;
  const json& tok = single[1].is_object() && single[1].contains("SpecialToken") ? single[1]["SpecialToken"] : json();
  KINEMA_CHECK(tok.is_object() && tok.contains("id") && tok["id"].is_string(), kWhere, "post_processor template ",
               single.dump().substr(0, 120), expected);
  std::string name = tok["id"].get<std::string>();
  // The template names a special_tokens entry; its tokens give the piece.
  if (p.contains("special_tokens") && p["special_tokens"].is_object() && p["special_tokens"].contains(name)) {
    const json& e = p["special_tokens"][name];
    KINEMA_CHECK(e.is_object() && e.contains("tokens") && e["tokens"].is_array() && e["tokens"].size() == 1 &&
                     e["tokens"][0].is_string(), kWhere, "post_processor special token \"", name,
                 "\" must be one token");
    name = e["tokens"][0].get<std::string>();
  }
  s.eos_piece = name;
}

// Special pieces sentencepiece finds by name must be control pieces; byte pieces are typed.
void finish_types(const json& root, Spec& s) {
  std::unordered_map<std::string, size_t> id;
  for (size_t i = 0; i < s.pieces.size(); ++i) id.emplace(s.pieces[i].text, i);
  if (root.contains("padding") && root["padding"].is_object() && root["padding"].contains("pad_token") &&
      root["padding"]["pad_token"].is_string())
    s.pad_piece = root["padding"]["pad_token"].get<std::string>();
  for (const std::string* name : {&s.eos_piece, &s.pad_piece}) {
    auto it = id.find(*name);
    if (it == id.end()) {
      KINEMA_CHECK(name != &s.eos_piece || !root.contains("post_processor") || root["post_processor"].is_null(),
                   kWhere, "the post_processor appends \"", *name, "\", which is not in the vocab");
      continue;
    }
    Piece& p = s.pieces[it->second];
    KINEMA_CHECK(p.type != PieceType::unknown, kWhere, "\"", *name, "\" is both the unknown piece and ",
                 name == &s.eos_piece ? "eos" : "pad");
    p.type = PieceType::control;
  }
  if (!s.byte_fallback) return;
  int bytes = 0;
  for (Piece& p : s.pieces)
    if (p.type == PieceType::normal && is_byte_piece(p.text)) p.type = PieceType::byte, ++bytes;
  KINEMA_CHECK(bytes == 256, kWhere, "byte_fallback is true but the vocab holds ", bytes,
               " of the 256 byte pieces <0x00> .. <0xFF>");
}

void check_whitespace(const Spec& s) {
  KINEMA_CHECK(!(s.whitespace_split && s.prefix_first_only), kWhere,
               "WhitespaceSplit followed by Metaspace prepend_scheme \"first\" drops the spaces between words; "
               "sentencepiece has no such mode (expected prepend_scheme \"always\")");
  KINEMA_CHECK(!(s.whitespace_split && !s.escape_whitespaces), kWhere,
               "WhitespaceSplit without a Metaspace pre-tokenizer drops the spaces between words; expected "
               "WhitespaceSplit then Metaspace (\"\xe2\x96\x81\"), as sentencepiece conversions have");
  KINEMA_CHECK(!s.strip || s.remove_extra_whitespaces, kWhere,
               "the normalizer strips the ends but keeps runs of spaces; sentencepiece does both or neither "
               "(expected Strip together with Replace {\"Regex\": \" {2,}\"})");
}

std::string serialize(const Spec& s) {
  proto::Writer model;
  for (const Piece& p : s.pieces) {
    proto::Writer w;
    w.bytes_field(proto::field::kPiece, p.text);
    w.float_field(proto::field::kPieceScore, p.score);
    if (p.type != PieceType::normal) w.varint_field(proto::field::kPieceType, int(p.type));
    model.bytes_field(proto::field::kModelPieces, w.bytes());
  }
  auto id_of = [&](const std::string& name, PieceType type) -> int64_t {
    for (size_t i = 0; i < s.pieces.size(); ++i)
      if (s.pieces[i].text == name && s.pieces[i].type == type) return int64_t(i);
    return -1;
  };
  proto::Writer t;  // ids are informative (the processor finds special pieces by name)
  t.varint_field(proto::field::kTrainerModelType, 1);  // UNIGRAM
  t.varint_field(proto::field::kTrainerVocabSize, int64_t(s.pieces.size()));
  t.varint_field(proto::field::kTrainerByteFallback, s.byte_fallback);
  t.varint_field(proto::field::kTrainerUnkId, id_of(s.unk_piece, PieceType::unknown));
  t.varint_field(proto::field::kTrainerBosId, -1);
  t.varint_field(proto::field::kTrainerEosId, id_of(s.eos_piece, PieceType::control));
  t.varint_field(proto::field::kTrainerPadId, id_of(s.pad_piece, PieceType::control));
  t.bytes_field(proto::field::kTrainerUnkPiece, s.unk_piece);
  t.bytes_field(proto::field::kTrainerEosPiece, s.eos_piece);
  t.bytes_field(proto::field::kTrainerPadPiece, s.pad_piece);
  model.bytes_field(proto::field::kModelTrainerSpec, t.bytes());
  proto::Writer n;
  n.bytes_field(proto::field::kNormName, s.norm_name);
  if (!s.charsmap.empty()) n.bytes_field(proto::field::kNormCharsmap, s.charsmap);
  n.varint_field(proto::field::kNormAddDummyPrefix, s.add_dummy_prefix);
  n.varint_field(proto::field::kNormRemoveExtraWhitespaces, s.remove_extra_whitespaces);
  n.varint_field(proto::field::kNormEscapeWhitespaces, s.escape_whitespaces);
  model.bytes_field(proto::field::kModelNormalizerSpec, n.bytes());
  return model.bytes();
}

}  // namespace

bool looks_like_json(const std::string& bytes) {
  size_t i = 0;
  if (bytes.compare(0, 3, "\xef\xbb\xbf") == 0) i = 3;  // a UTF-8 byte order mark
  while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t')) ++i;
  return i < bytes.size() && bytes[i] == '{';
}

std::string sentencepiece_from_hf_json(const std::string& json_text) {
  json root;
  try {
    root = json::parse(json_text.compare(0, 3, "\xef\xbb\xbf") == 0 ? json_text.substr(3) : json_text);
  } catch (const json::exception& e) {
    fail(kWhere, "not valid JSON (", e.what(), "); ", kSupported);
  }
  KINEMA_CHECK(root.is_object() && root.contains("model"), kWhere,
               "a JSON file without a \"model\" object is not a Hugging Face tokenizer.json; ", kSupported);
  Spec s;
  try {
    read_vocab(root["model"], s);
    read_added_tokens(root, s);
    read_normalizer(root.contains("normalizer") ? root["normalizer"] : json(), s);
    read_pre_tokenizer(root.contains("pre_tokenizer") ? root["pre_tokenizer"] : json(), s);
    read_post_processor(root.contains("post_processor") ? root["post_processor"] : json(), s);
    check_whitespace(s);
    finish_types(root, s);
  } catch (const json::exception& e) {
    fail(kWhere, "malformed entry (", e.what(), ")");
  }
  return serialize(s);
}

}  // namespace kinema::text
