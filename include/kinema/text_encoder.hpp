// The text encoder: a T5 encoder shaped like umT5's (Wan2.1's `T5Encoder`, wan/modules/t5.py),
// so the same code runs kinema's own small encoder and Wan's umT5-XXL checkpoint.
//
// ids [B, L] -> token_embedding -> blocks -> norm -> per-token embeddings [B, L, dim]. A block:
//   x += o(attention(q(n1), k(n1), v(n1), bias = relative position bias + padding mask))
//   x += fc2(fc1(n2) * gelu_tanh(gate.0(n2)))
// with n1 = norm1(x), n2 = norm2(x). The norms are T5LayerNorm: x * rsqrt(mean(x^2) + eps) * w
// (no mean subtraction, no bias). Linears have no bias. Attention is not scaled by 1/sqrt(d)
// (T5 folds that into q's init). The relative position bias is a learned [num_buckets, heads]
// table indexed by T5's bucket of (key - query), per block in umT5 (`blocks.N.pos_embedding`)
// or shared (`pos_embedding`, T5 v1.1). Padding keys are masked out; padded queries still get
// outputs, as in Wan (callers keep the first `length` rows).
//
// Weights are one name -> Tensor map keyed by Wan's checkpoint keys (t5_parameter_shapes), and
// the config is inferred from their names and shapes.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kinema/tensor.hpp"
#include "kinema/tensor_file.hpp"
#include "kinema/tokenizer.hpp"

namespace kinema {

// Defaults are umT5-XXL's encoder (Wan2.1's text encoder).
struct TextEncoderConfig {
  int64_t vocab_size = 256384;
  int64_t dim = 4096;
  int64_t dim_attn = 4096;  // q/k/v width (heads x head dim)
  int64_t ffn_dim = 10240;
  int64_t num_heads = 64;   // from the position bias table [num_buckets, num_heads]
  int64_t num_layers = 24;
  int64_t num_buckets = 32;
  int64_t max_distance = 128;  // not visible in shapes: metadata "max_distance", else T5's 128
  bool shared_pos = false;     // one top-level pos_embedding (T5 v1.1) or one per block (umT5)
  float eps = 1e-6f;

  int64_t head_dim() const { return dim_attn / num_heads; }
  void validate() const;  // throws Error naming the inconsistent field
};

// Which relative positions get buckets: both directions (encoder) or only the past (decoder).
enum class BucketDirection { bidirectional, past_only };

// T5's relative position bucket of (key position - query position), exactly as
// T5RelativeEmbedding._relative_position_bucket / HF's T5Attention compute it (float32 log).
int64_t t5_relative_position_bucket(int64_t relative_position, int64_t num_buckets,
                                    int64_t max_distance,
                                    BucketDirection direction = BucketDirection::bidirectional);

// Every parameter of a config, in checkpoint order: (Wan checkpoint key, shape).
std::vector<std::pair<std::string, Shape>> text_encoder_parameter_shapes(const TextEncoderConfig& config);

// The recognizer: does this tensor set look like a T5-style encoder (token_embedding, blocks
// with attn.q and ffn.gate.0)?
bool is_text_encoder_checkpoint(const std::map<std::string, Tensor>& tensors);

// Infers the config from checkpoint keys and shapes; throws Error naming the missing or
// mismatched key. metadata may carry "max_distance".
TextEncoderConfig infer_text_encoder_config(const std::map<std::string, Tensor>& tensors,
                                            const std::map<std::string, std::string>& metadata = {});

enum class TextEncoderInit {
  t5,      // Wan's init_weights: N(0, 1) embeddings, ones norms, T5's scaled normal linears
  random,  // norm weights random too: for tests that need a non-trivial function everywhere
};

struct TextEncoderLoadOptions {
  // true: f32 leaves with requires_grad (training); false: the file's dtype (inference).
  bool trainable = false;
};

enum class TextEncoderCheckpointing {
  none,    // keep every activation for backward
  blocks,  // keep only each block's input and recompute the block during backward
};

struct TextEncoderForwardOptions {
  // Matmul dtype: f32, or bf16 (linears in bf16; norms, residual stream, softmax stay f32).
  DType compute = DType::f32;
  // When set, forward stores "token_embedding" [B, L, dim], "blocks.N" [B, L, dim] and
  // "norm" [B, L, dim] here (for parity tests and debugging).
  std::map<std::string, Tensor>* trace = nullptr;
  // Gradient checkpointing for training. The model must outlive backward().
  TextEncoderCheckpointing checkpointing = TextEncoderCheckpointing::none;
};

class TextEncoder {
 public:
  // f32 leaves with requires_grad, deterministic in seed.
  static TextEncoder init_random(const TextEncoderConfig& config, uint64_t seed,
                                 TextEncoderInit init = TextEncoderInit::t5);
  // Validates every key and shape against the inferred config; unexpected keys are errors.
  static TextEncoder from_tensors(const TensorFile& file, const TextEncoderLoadOptions& options = {});
  TensorFile to_tensors() const;  // the weights plus metadata {"model", "max_distance"}

  const TextEncoderConfig& config() const { return config_; }
  const std::map<std::string, Tensor>& weights() const { return weights_; }
  std::vector<Tensor> parameters() const;  // in text_encoder_parameter_shapes() order
  const Tensor& weight(const std::string& name) const;  // throws Error naming a missing key

  // tokens: ids and mask [B, L] (Tokenizer::encode_batch) -> [B, L, dim] f32. An empty mask
  // means every token is valid. Each row needs at least one valid token.
  Tensor forward(const TokenBatch& tokens, const TextEncoderForwardOptions& options = {}) const;

 private:
  TextEncoderConfig config_;
  std::map<std::string, Tensor> weights_;
};

}  // namespace kinema
