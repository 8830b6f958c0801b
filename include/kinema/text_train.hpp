// Pretraining kinema's small text encoder by masked-token prediction (BERT's objective) on the
// world's captions, so its per-token outputs (which the DiT cross-attends to, frozen) tell
// "a red circle left of a blue square" from "a blue circle left of a red square".
//
//   mask 15% of each caption's tokens (eos and padding never), colour / shape / spatial words
//   `emphasis` times as often as other words; of the chosen: 80% -> mask id, 10% -> a random
//   ordinary piece, 10% unchanged;
//   logits = (h / sqrt(dim)) · token_embedding^T   (tied head, T5's rescaling; no new parameters)
//   loss   = cross_entropy(logits, original ids) over the chosen positions.
//
// The mask id is the byte-fallback piece <0x00> (id 3 in kinema's tokenizer): a NUL character
// never occurs in text, so the id is otherwise unused and the vocabulary (and so the saved
// TextEncoder checkpoint, loadable by TextEncoder::from_tensors) stays the tokenizer's.
// docs/train.md ("Training the text encoder") gives the recipe and the measured accuracies.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kinema/tensor.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/text_encoder.hpp"
#include "kinema/tokenizer.hpp"
#include "kinema/train.hpp"

namespace kinema {

// What a caption token is, for preferential masking and per-class accuracy. spatial: size,
// direction and relation words ("small", "left", "above").
enum class WordClass : uint8_t { other, colour, shape, spatial };
inline constexpr int kWordClassCount = 4;
const char* word_class_name(WordClass c);  // "other", "colour", "shape", "spatial"

// One tokenized caption with a class per token.
struct CaptionSample {
  std::string text;
  std::vector<int32_t> ids;        // Tokenizer::encode(text): pieces then eos
  std::vector<WordClass> classes;  // one per id (eos: other)
};

// What the text trainer reads. The world's captions implement it (kinema/world_captions.hpp);
// get() must be a pure function of index (resume relies on it).
class CaptionSource {
 public:
  virtual ~CaptionSource() = default;
  virtual int64_t size() const = 0;
  virtual CaptionSample get(int64_t index) const = 0;
};

// ---- masking ---------------------------------------------------------------------------------
struct MaskingOptions {
  float mask_fraction = 0.15f;  // expected share of each caption's maskable tokens (all but eos)
  float replace_mask = 0.8f;    // of the chosen: replaced by mask_id
  float replace_random = 0.1f;  // replaced by a random id in [random_first, vocab); the rest stay
  float emphasis = 2.f;         // relative chance of colour / shape / spatial tokens
  int32_t mask_id = 3;          // <0x00> in kinema's tokenizer (masking_for finds it)
  int32_t random_first = 259;   // first ordinary piece (after pad, eos, unk and the 256 bytes)
  int32_t pad_id = 0, eos_id = 1;
  void validate(int64_t vocab_size) const;  // throws Error naming the bad field
};
// The options for a tokenizer: mask_id = its <0x00> byte piece, random_first = the first id
// after the byte pieces, pad and eos from it. Error when the model has no byte pieces.
MaskingOptions masking_for(const Tokenizer& tokenizer);

enum class MaskAction : uint8_t { mask, random, keep };

// A padded batch after masking, and what to predict where.
struct MaskedBatch {
  TokenBatch tokens;               // the masked inputs [B, L] (pad past each row's length)
  std::vector<int64_t> positions;  // predicted positions, flat into [B * L], ascending
  std::vector<int32_t> targets;    // the original id at each position
  std::vector<WordClass> classes;  // the original token's class at each position
  std::vector<MaskAction> actions; // what was done to the input there
};

// Pads the samples to the longest (after truncating each to max_length tokens, eos kept last;
// 0 = no limit) and masks them with rng: position i of a caption with n maskable tokens is
// chosen with probability min(1, mask_fraction * n * w_i / sum(w)), w = emphasis for colour,
// shape and spatial tokens, else 1. A batch with nothing chosen gets one position anyway.
MaskedBatch make_masked_batch(const std::vector<CaptionSample>& samples, const MaskingOptions& options,
                              int64_t vocab_size, TrainRng& rng, int64_t max_length = 0);

// The tied-head logits at the batch's positions [M, vocab]: (h / sqrt(dim)) · token_embedding^T
// with h = model.forward(batch.tokens) gathered at batch.positions.
Tensor masked_token_logits(const TextEncoder& model, const MaskedBatch& batch,
                           DType compute = DType::f32);
// cross_entropy(masked_token_logits(...), batch.targets): mean over the masked tokens.
Tensor masked_token_loss(const TextEncoder& model, const MaskedBatch& batch, DType compute = DType::f32);

// ---- evaluation ------------------------------------------------------------------------------
struct MaskedAccuracy {
  std::array<int64_t, kWordClassCount> correct{}, total{};
  double loss = 0;  // mean cross-entropy over every masked token
  double accuracy(WordClass c) const;  // 0 when the class had no masked tokens
  double overall() const;
  std::string summary() const;  // "acc 0.912 (colour 0.98 n=120, shape ..., loss 0.31"
};

struct TextEvalOptions {
  int64_t batch_size = 32;
  uint64_t seed = 4321;  // caption index i is masked with TrainRng(seed, i): fixed across calls
  // By default every chosen token is replaced by the mask id: the accuracy is then how often
  // the encoder reads a hidden word back from its context alone.
  MaskingOptions masking = [] {
    MaskingOptions m;
    m.replace_mask = 1.f, m.replace_random = 0.f;
    return m;
  }();
  int64_t max_length = 0;
  DType compute = DType::f32;
};
// Top-1 accuracy of the tied head at masked positions of every caption in data (inference).
MaskedAccuracy evaluate_masked_accuracy(const TextEncoder& model, const CaptionSource& data,
                                        const TextEvalOptions& options = {});

// ---- trainer ---------------------------------------------------------------------------------
struct TextTrainerOptions : TrainLoopOptions {
  DType compute = DType::f32;  // f32 or bf16 matmuls (master weights stay f32)
  MaskingOptions masking;
  int64_t max_length = 256;    // tokens per caption (longer ones truncated, eos kept); 0 = any
};

class TextTrainer {
 public:
  // The model must outlive the trainer; its parameters are updated in place.
  TextTrainer(TextEncoder& model, const CaptionSource& data, const TextTrainerOptions& options);
  StepStats step();  // loss = mean over micro-batches of each one's mean masked cross-entropy
  int64_t steps_done() const { return state_.step(); }
  int64_t data_position() const { return state_.data_position(); }
  // EMA weights in the TextEncoder checkpoint layout (TextEncoder::from_tensors loads them).
  TensorFile ema_tensors() const;
  // Checkpoints with format "kinema.train.text/1" (TrainState::save / load).
  std::string save(const std::string& dir) const;
  void load(const std::string& dir);

 private:
  TextEncoder& model_;
  const CaptionSource& data_;
  TextTrainerOptions options_;
  TrainState state_;
};

}  // namespace kinema
