// Writes a Hugging Face tokenizer.json from a sentencepiece model, laid out as the tokenizers
// library's sentencepiece converter lays out T5/umT5's (the tests make their JSON files from our
// own models; nothing is downloaded).
#pragma once
#include <string>

namespace kinema::test {

enum class HfJsonStyle {
  t5,      // T5's file: normalizer [Precompiled, Replace " {2,}" -> " "], pre-tokenizer
           // [WhitespaceSplit, Metaspace add_prefix_space], TemplateProcessing "$A </s>"
  modern,  // tokenizers >= 0.14: normalizer [Precompiled, Strip, Replace " {2,}" -> "▁"],
           // Metaspace prepend_scheme "always", split true
  nfkc,    // normalizer [NFKC, Replace " {2,}" -> " "] instead of the Precompiled table
};

// `model` is a serialized sentencepiece ModelProto (a .model file's bytes).
std::string hf_json_from_sentencepiece(const std::string& model, HfJsonStyle style = HfJsonStyle::t5);

}  // namespace kinema::test
