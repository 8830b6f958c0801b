// Hugging Face tokenizer.json (Unigram models, as umT5's and T5's are published) read into the
// sentencepiece model that tokenizes the same way, so Tokenizer has one encoder for both files.
//
// Why a sentencepiece model and not a second encoder: a Unigram tokenizer.json is, piece for
// piece, a sentencepiece unigram model that Hugging Face's converter wrote out (vocab = pieces
// with their log-probabilities, Precompiled = sentencepiece's own normalisation table, Metaspace
// = its "▁" whitespace). Building the ModelProto (protobuf bytes, sentencepiece_proto.hpp) and
// handing it to libsentencepiece gives the sentencepiece path's ids by construction: the same
// Viterbi search, the same unknown-piece penalty, the same byte fallback.
//
// What is read (anything else is an Error naming it and listing what is supported):
//   model:          type "Unigram"; vocab [[piece, score], ...]; unk_id; byte_fallback
//   added_tokens:   special ones become control pieces (user-defined when not special); ids
//                   past the vocabulary are appended in order
//   normalizer:     Precompiled (its charsmap is sentencepiece's), NFKC (sentencepiece's nfkc
//                   table), Strip and Replace of runs of spaces (sentencepiece's
//                   remove_extra_whitespaces), Prepend "▁"; Sequence of these; or null
//   pre_tokenizer:  Metaspace ("▁", add_prefix_space / prepend_scheme), WhitespaceSplit; Sequence
//   post_processor: TemplateProcessing "$A" or "$A TOKEN" (TOKEN is the eos piece); or null
#pragma once
#include <string>

namespace kinema::text {

// Does the file's content look like JSON (first non-space byte '{')? A sentencepiece model is
// protobuf and starts with the field key 0x0a.
bool looks_like_json(const std::string& bytes);

// tokenizer.json text -> the serialized sentencepiece ModelProto. Throws Error saying what was
// found and what is expected.
std::string sentencepiece_from_hf_json(const std::string& json_text);

}  // namespace kinema::text
