// kinema's tokenizer: a sentencepiece model (unigram, trained on the world's captions by
// train_tokenizer, or any sentencepiece `spiece.model` such as umT5's, or the same model as a
// Hugging Face `tokenizer.json` Unigram file).
//
// Conventions follow T5/umT5, so kinema's model and Wan's umT5 share the code path: ids are
// pieces of the model's vocabulary, pad = 0, eos = 1 (appended after the text), unk = 2.
// kinema's own model also has byte fallback: a character the training captions never held is
// spelled as UTF-8 byte pieces, so decode(encode(text)) gives the (whitespace-normalised) text
// back for any input. Text is normalised NFKC with runs of spaces collapsed and ends trimmed
// (sentencepiece's nmt_nfkc, the same cleaning as Wan's `clean='whitespace'`).
//
// sentencepiece stays behind this header; library calls throw kinema::Error, never abort.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kinema {

// Token ids of a batch of texts, padded to one length: what a text encoder takes.
struct TokenBatch {
  int64_t batch = 0, length = 0;
  std::vector<int32_t> ids;      // [batch, length] row-major; pad_id past each row's length
  std::vector<int32_t> mask;     // [batch, length]: 1 = token (eos included), 0 = padding
  std::vector<int64_t> lengths;  // tokens per row, eos included
};

struct EncodeOptions {
  bool add_eos = true;  // append eos, as umT5's tokenizer does (add_special_tokens=True)
};

struct PadOptions {
  int64_t length = 0;    // pad (or truncate) every row to this; 0 = the longest row of the batch
  bool add_eos = true;   // a truncated row keeps its eos as the last token
};

class Tokenizer {
 public:
  // Loads a sentencepiece model file or a Hugging Face tokenizer.json (a Unigram model, as
  // umT5's is published), told apart by content; both give the same ids. Error names the path
  // when it is missing or not a model, and for a tokenizer.json what it holds that kinema does
  // not read (BPE/WordPiece models, other normalizers) and what is supported.
  static Tokenizer load(const std::string& path);
  // The same from the file's bytes. serialized() of a tokenizer.json's tokenizer is the
  // sentencepiece model built from it.
  static Tokenizer from_bytes(const std::string& bytes);

  int64_t vocab_size() const;
  int32_t pad_id() const;
  int32_t eos_id() const;
  int32_t unk_id() const;
  std::string piece(int32_t id) const;  // the piece's text ("▁red"); Error for an id out of range

  std::vector<int32_t> encode(const std::string& text, const EncodeOptions& options = {}) const;
  std::vector<std::string> encode_pieces(const std::string& text) const;  // no eos
  // Pads/truncates each text's ids to one length, with the attention mask.
  TokenBatch encode_batch(const std::vector<std::string>& texts, const PadOptions& options = {}) const;
  // Ids back to text; pad and eos are skipped, unk decodes as " ⁇ ".
  std::string decode(const std::vector<int32_t>& ids) const;

  std::string serialized() const;  // the model file's bytes

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

struct TokenizerTrainOptions {
  int vocab_size = 3000;
  std::string model_type = "unigram";  // or "bpe"
  // Fixed so training is deterministic: the unigram trainer's EM sums per thread.
  int num_threads = 1;
  bool byte_fallback = true;  // spell unseen characters as UTF-8 bytes instead of unk
};

// Trains a sentencepiece model on `sentences` with libsentencepiece's trainer (pad 0, eos 1,
// unk 2, no bos, as T5). Deterministic: the same sentences and options give the same bytes.
// Returns the serialized model (write it to a .model file; Tokenizer::from_bytes reads it).
std::string train_tokenizer(const std::vector<std::string>& sentences,
                            const TokenizerTrainOptions& options = {});

}  // namespace kinema
