// Text encoder configuration: the parameter table (Wan's T5Encoder checkpoint keys and shapes),
// config inference from a checkpoint's names and shapes, and T5's relative position buckets.
// The table is the one source of truth: init_random creates it, from_tensors checks a file
// against it, parameters() walks it.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "kinema/error.hpp"
#include "kinema/text_encoder.hpp"
#include "models/weight_map.hpp"

namespace kinema {
namespace {

constexpr const char* kWhere = "text_encoder";

const Tensor& need(const std::map<std::string, Tensor>& t, const std::string& key, int ndim) {
  auto it = t.find(key);
  KINEMA_CHECK(it != t.end(), kWhere, "missing tensor \"", key,
               "\"; not a T5-style text encoder checkpoint");
  KINEMA_CHECK(it->second.ndim() == ndim, kWhere, "tensor \"", key, "\" has shape ",
               shape_str(it->second.shape()), "; expected ", ndim, " dims");
  return it->second;
}

int64_t metadata_int(const std::map<std::string, std::string>& metadata, const char* key,
                     int64_t fallback) {
  auto it = metadata.find(key);
  if (it == metadata.end()) return fallback;
  char* end = nullptr;
  long v = std::strtol(it->second.c_str(), &end, 10);
  KINEMA_CHECK(end != it->second.c_str() && *end == 0 && v > 0, kWhere, "metadata ", key, " \"",
               it->second, "\" is not a positive integer");
  return v;
}

}  // namespace

void TextEncoderConfig::validate() const {
  check(vocab_size > 0 && dim > 0 && dim_attn > 0 && ffn_dim > 0 && num_layers >= 0 &&
            max_distance > 0,
        kWhere, "config sizes must be positive; got vocab_size ", vocab_size, ", dim ", dim,
        ", dim_attn ", dim_attn, ", ffn_dim ", ffn_dim, ", num_layers ", num_layers,
        ", max_distance ", max_distance);
  check(num_heads > 0 && dim_attn % num_heads == 0, kWhere, "dim_attn ", dim_attn,
        " is not divisible by num_heads ", num_heads);
  // Bidirectional buckets: half per direction, and half of those exact.
  check(num_buckets >= 4 && num_buckets % 2 == 0, kWhere, "num_buckets must be even and >= 4; got ",
        num_buckets);
  check(max_distance > num_buckets / 4, kWhere, "max_distance ", max_distance,
        " must exceed the exact range num_buckets / 4 = ", num_buckets / 4);
}

// T5's buckets (Raffel et al. 2020; HF T5Attention._relative_position_bucket): half the
// buckets per direction; within one, distances below max_exact = n/2 get their own bucket and
// larger ones share log-spaced buckets up to max_distance. The log is taken in float32, as
// PyTorch does on rel_pos.float(), so boundary distances land in the same bucket.
int64_t t5_relative_position_bucket(int64_t rel, int64_t num_buckets, int64_t max_distance,
                                    BucketDirection direction) {
  int64_t bucket = 0, n = num_buckets;
  if (direction == BucketDirection::bidirectional) {
    n /= 2;
    if (rel > 0) bucket += n;
    rel = std::llabs(rel);
  } else {
    rel = rel < 0 ? -rel : 0;
  }
  int64_t max_exact = n / 2;
  if (rel < max_exact) return bucket + rel;
  float scaled = std::log(float(rel) / float(max_exact)) /
                 float(std::log(double(max_distance) / double(max_exact))) * float(n - max_exact);
  return bucket + std::min<int64_t>(max_exact + int64_t(scaled), n - 1);
}

std::vector<std::pair<std::string, Shape>> text_encoder_parameter_shapes(const TextEncoderConfig& c) {
  c.validate();
  std::vector<std::pair<std::string, Shape>> out;
  out.emplace_back("token_embedding.weight", Shape{c.vocab_size, c.dim});
  if (c.shared_pos) out.emplace_back("pos_embedding.embedding.weight", Shape{c.num_buckets, c.num_heads});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string b = "blocks." + std::to_string(i);
    out.emplace_back(b + ".norm1.weight", Shape{c.dim});
    for (const char* p : {".attn.q.weight", ".attn.k.weight", ".attn.v.weight"})
      out.emplace_back(b + p, Shape{c.dim_attn, c.dim});
    out.emplace_back(b + ".attn.o.weight", Shape{c.dim, c.dim_attn});
    out.emplace_back(b + ".norm2.weight", Shape{c.dim});
    out.emplace_back(b + ".ffn.gate.0.weight", Shape{c.ffn_dim, c.dim});  // .1 is GELU(tanh)
    out.emplace_back(b + ".ffn.fc1.weight", Shape{c.ffn_dim, c.dim});
    out.emplace_back(b + ".ffn.fc2.weight", Shape{c.dim, c.ffn_dim});
    if (!c.shared_pos)
      out.emplace_back(b + ".pos_embedding.embedding.weight", Shape{c.num_buckets, c.num_heads});
  }
  out.emplace_back("norm.weight", Shape{c.dim});
  return out;
}

bool is_text_encoder_checkpoint(const std::map<std::string, Tensor>& t) {
  return t.count("token_embedding.weight") && t.count("norm.weight") &&
         t.count("blocks.0.attn.q.weight") && t.count("blocks.0.ffn.gate.0.weight");
}

TextEncoderConfig infer_text_encoder_config(const std::map<std::string, Tensor>& t,
                                            const std::map<std::string, std::string>& metadata) {
  TextEncoderConfig c;
  const Tensor& emb = need(t, "token_embedding.weight", 2);  // [vocab, dim]
  c.vocab_size = emb.size(0);
  c.dim = emb.size(1);
  c.num_layers = count_blocks(t, kWhere);
  c.shared_pos = t.count("pos_embedding.embedding.weight") > 0;
  KINEMA_CHECK(c.shared_pos || c.num_layers > 0, kWhere,
               "missing tensor \"blocks.0.pos_embedding.embedding.weight\" (or a shared "
               "\"pos_embedding.embedding.weight\"); cannot infer num_heads");
  const Tensor& pos = need(t, c.shared_pos ? "pos_embedding.embedding.weight"
                                           : "blocks.0.pos_embedding.embedding.weight", 2);
  c.num_buckets = pos.size(0);  // [num_buckets, num_heads]
  c.num_heads = pos.size(1);
  if (c.num_layers > 0) {
    c.dim_attn = need(t, "blocks.0.attn.q.weight", 2).size(0);     // [dim_attn, dim]
    c.ffn_dim = need(t, "blocks.0.ffn.gate.0.weight", 2).size(0);  // [ffn_dim, dim]
  } else {
    c.dim_attn = c.dim, c.ffn_dim = 4 * c.dim;
  }
  c.max_distance = metadata_int(metadata, "max_distance", 128);
  c.validate();
  return c;
}

}  // namespace kinema
