// train_tokenizer: libsentencepiece's trainer fed from memory (a SentenceIterator), with the
// special ids of T5/umT5 (pad 0, eos 1, unk 2, no bos) so kinema's tokenizer and umT5's agree
// on what the text encoder sees.
#include <sentencepiece_trainer.h>

#include <string>
#include <unordered_map>

#include "kinema/error.hpp"
#include "kinema/tokenizer.hpp"

namespace kinema {
namespace {

class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(const std::vector<std::string>& s) : s_(s) {}
  bool done() const override { return i_ >= s_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return s_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& s_;
  size_t i_ = 0;
};

}  // namespace

std::string train_tokenizer(const std::vector<std::string>& sentences,
                            const TokenizerTrainOptions& options) {
  KINEMA_CHECK(!sentences.empty(), "tokenizer", "no training sentences");
  KINEMA_CHECK(options.vocab_size >= 16, "tokenizer", "vocab_size must be >= 16; got ", options.vocab_size);
  KINEMA_CHECK(options.model_type == "unigram" || options.model_type == "bpe", "tokenizer",
               "model_type must be unigram or bpe; got \"", options.model_type, "\"");
  KINEMA_CHECK(options.num_threads >= 1, "tokenizer", "num_threads must be >= 1");
  std::unordered_map<std::string, std::string> args = {
      {"model_type", options.model_type},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"num_threads", std::to_string(options.num_threads)},
      {"character_coverage", "1.0"},
      {"byte_fallback", options.byte_fallback ? "true" : "false"},
      {"pad_id", "0"}, {"eos_id", "1"}, {"unk_id", "2"}, {"bos_id", "-1"},
      {"input_sentence_size", "0"},        // use every sentence: no random sampling
      {"shuffle_input_sentence", "false"},
      {"max_sentence_length", "16384"},    // detailed captions run long
      {"normalization_rule_name", "nmt_nfkc"},
      {"minloglevel", "2"},
  };
  VectorIterator it(sentences);
  std::string model;
  auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  KINEMA_CHECK(status.ok(), "tokenizer", "sentencepiece training failed: ", status.ToString());
  return model;
}

}  // namespace kinema
