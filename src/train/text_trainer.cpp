// The text encoder's trainer: masked-token prediction with a tied head over caption batches,
// then the shared TrainState's clip / AdamW / EMA step.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/text_train.hpp"

namespace kinema {
namespace {

constexpr const char* kWhere = "TextTrainer";

std::vector<std::string> text_keys(const TextEncoderConfig& config) {
  std::vector<std::string> keys;
  for (const auto& [key, shape] : text_encoder_parameter_shapes(config)) keys.push_back(key);
  return keys;
}

bool emphasised(WordClass c) { return c != WordClass::other; }

}  // namespace

const char* word_class_name(WordClass c) {
  switch (c) {
    case WordClass::other: return "other";
    case WordClass::colour: return "colour";
    case WordClass::shape: return "shape";
    case WordClass::spatial: return "spatial";
  }
  return "?";
}

// ---- masking ---------------------------------------------------------------------------------
void MaskingOptions::validate(int64_t vocab_size) const {
  check(mask_fraction > 0 && mask_fraction <= 1, "masking", "mask fraction must be in (0, 1]; got ",
        mask_fraction);
  check(replace_mask >= 0 && replace_random >= 0 && replace_mask + replace_random <= 1.f + 1e-6f,
        "masking", "replace shares must be >= 0 and sum to at most 1; got mask ", replace_mask,
        ", random ", replace_random);
  check(emphasis > 0, "masking", "emphasis must be positive; got ", emphasis);
  check(mask_id >= 0 && mask_id < vocab_size, "masking", "mask id ", mask_id, " outside the vocabulary [0, ",
        vocab_size, ")");
  check(random_first >= 0 && random_first < vocab_size, "masking", "first random id ", random_first,
        " outside the vocabulary [0, ", vocab_size, ")");
}

MaskingOptions masking_for(const Tokenizer& tokenizer) {
  MaskingOptions m;
  m.pad_id = tokenizer.pad_id();
  m.eos_id = tokenizer.eos_id();
  m.mask_id = -1;
  int32_t last_byte = -1;
  for (int32_t id = 0; id < int32_t(tokenizer.vocab_size()); ++id) {
    const std::string p = tokenizer.piece(id);
    if (p.size() == 6 && p.rfind("<0x", 0) == 0 && p[5] == '>') {
      if (p == "<0x00>") m.mask_id = id;
      last_byte = id;
    }
  }
  check(m.mask_id >= 0, "masking", "the tokenizer has no <0x00> byte piece to use as the mask id "
        "(train it with byte fallback, or set MaskingOptions::mask_id)");
  m.random_first = last_byte + 1;
  m.validate(tokenizer.vocab_size());
  return m;
}

MaskedBatch make_masked_batch(const std::vector<CaptionSample>& samples, const MaskingOptions& o,
                              int64_t vocab_size, TrainRng& rng, int64_t max_length) {
  check(!samples.empty(), "make_masked_batch", "no samples");
  o.validate(vocab_size);
  MaskedBatch b;
  std::vector<std::vector<int32_t>> rows;
  std::vector<std::vector<WordClass>> classes;
  int64_t L = 0;
  for (const CaptionSample& s : samples) {
    check(!s.ids.empty() && s.ids.size() == s.classes.size(), "make_masked_batch",
          "a caption needs ids and one class per id; got ", s.ids.size(), " ids and ",
          s.classes.size(), " classes");
    std::vector<int32_t> ids = s.ids;
    std::vector<WordClass> cls = s.classes;
    if (max_length > 0 && int64_t(ids.size()) > max_length) {
      const bool eos = ids.back() == o.eos_id;
      ids.resize(size_t(max_length)), cls.resize(size_t(max_length));
      if (eos) ids.back() = o.eos_id, cls.back() = WordClass::other;
    }
    L = std::max<int64_t>(L, int64_t(ids.size()));
    rows.push_back(std::move(ids));
    classes.push_back(std::move(cls));
  }
  const int64_t B = int64_t(samples.size());
  b.tokens.batch = B, b.tokens.length = L;
  b.tokens.ids.assign(size_t(B * L), o.pad_id);
  b.tokens.mask.assign(size_t(B * L), 0);
  for (int64_t r = 0; r < B; ++r) {
    const auto& ids = rows[size_t(r)];
    const auto& cls = classes[size_t(r)];
    const int64_t n = int64_t(ids.size());
    b.tokens.lengths.push_back(n);
    double wsum = 0;
    int64_t maskable = 0;
    for (int64_t i = 0; i < n; ++i)
      if (ids[size_t(i)] != o.eos_id && ids[size_t(i)] != o.pad_id)
        ++maskable, wsum += emphasised(cls[size_t(i)]) ? o.emphasis : 1.0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t flat = r * L + i;
      const int32_t id = ids[size_t(i)];
      b.tokens.ids[size_t(flat)] = id;
      b.tokens.mask[size_t(flat)] = 1;
      if (id == o.eos_id || id == o.pad_id) continue;
      const double w = emphasised(cls[size_t(i)]) ? o.emphasis : 1.0;
      const double p = std::min(1.0, double(o.mask_fraction) * double(maskable) * w / wsum);
      if (rng.uniform() >= p) continue;
      const float u = rng.uniform();
      MaskAction a = u < o.replace_mask                      ? MaskAction::mask
                     : u < o.replace_mask + o.replace_random ? MaskAction::random
                                                             : MaskAction::keep;
      if (a == MaskAction::mask) b.tokens.ids[size_t(flat)] = o.mask_id;
      if (a == MaskAction::random)
        b.tokens.ids[size_t(flat)] =
            o.random_first + int32_t(rng.next_u32() % uint32_t(vocab_size - o.random_first));
      b.positions.push_back(flat);
      b.targets.push_back(id);
      b.classes.push_back(cls[size_t(i)]);
      b.actions.push_back(a);
    }
  }
  if (b.positions.empty()) {  // a batch of very short captions: predict one token anyway
    for (int64_t r = 0; r < B && b.positions.empty(); ++r)
      for (int64_t i = 0; i < b.tokens.lengths[size_t(r)]; ++i) {
        const int64_t flat = r * L + i;
        const int32_t id = b.tokens.ids[size_t(flat)];
        if (id == o.eos_id || id == o.pad_id) continue;
        b.tokens.ids[size_t(flat)] = o.mask_id;
        b.positions.push_back(flat), b.targets.push_back(id);
        b.classes.push_back(classes[size_t(r)][size_t(i)]), b.actions.push_back(MaskAction::mask);
        break;
      }
    check(!b.positions.empty(), "make_masked_batch", "no caption has a token besides eos");
  }
  return b;
}

Tensor masked_token_logits(const TextEncoder& model, const MaskedBatch& batch, DType compute) {
  check(!batch.positions.empty(), "masked_token_logits", "the batch has no masked positions");
  TextEncoderForwardOptions fo;
  fo.compute = compute;
  const int64_t D = model.config().dim;
  Tensor h = model.forward(batch.tokens, fo);  // [B, L, D]
  h = reshape(h, {batch.tokens.batch * batch.tokens.length, D});
  std::vector<int32_t> rows(batch.positions.begin(), batch.positions.end());
  // A row gather (embedding's vjp scatter-adds back into h), then the tied head.
  Tensor picked = scale(embedding(h, rows, {int64_t(rows.size())}), 1.f / std::sqrt(float(D)));
  const Tensor& E = model.weight("token_embedding.weight");  // [V, D]
  Tensor Et = transpose(compute == DType::bf16 ? cast(E, DType::bf16) : E, 0, 1);
  if (compute == DType::bf16) picked = cast(picked, DType::bf16);
  return cast(matmul(picked, Et), DType::f32);  // [M, V]
}

Tensor masked_token_loss(const TextEncoder& model, const MaskedBatch& batch, DType compute) {
  return cross_entropy(masked_token_logits(model, batch, compute), batch.targets);
}

// ---- evaluation ------------------------------------------------------------------------------
double MaskedAccuracy::accuracy(WordClass c) const {
  const int k = int(c);
  return total[size_t(k)] ? double(correct[size_t(k)]) / double(total[size_t(k)]) : 0.0;
}

double MaskedAccuracy::overall() const {
  int64_t c = 0, t = 0;
  for (int k = 0; k < kWordClassCount; ++k) c += correct[size_t(k)], t += total[size_t(k)];
  return t ? double(c) / double(t) : 0.0;
}

std::string MaskedAccuracy::summary() const {
  char buf[96];
  std::snprintf(buf, sizeof buf, "masked acc %.4f (", overall());
  std::string s = buf;
  for (int k = 0; k < kWordClassCount; ++k) {
    std::snprintf(buf, sizeof buf, "%s%s %.4f n=%lld", k ? ", " : "", word_class_name(WordClass(k)),
                  accuracy(WordClass(k)), static_cast<long long>(total[size_t(k)]));
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "), loss %.4f", loss);
  return s + buf;
}

MaskedAccuracy evaluate_masked_accuracy(const TextEncoder& model, const CaptionSource& data,
                                        const TextEvalOptions& options) {
  check(options.batch_size > 0, "evaluate_masked_accuracy", "batch size must be positive");
  NoGradGuard no_grad;
  MaskedAccuracy acc;
  double loss_sum = 0;
  int64_t n_tokens = 0;
  const int64_t V = model.config().vocab_size;
  for (int64_t first = 0; first < data.size(); first += options.batch_size) {
    const int64_t last = std::min(data.size(), first + options.batch_size);
    // Each caption masked with its own RNG, so the set is the same for any batch size.
    MaskedBatch b;
    std::vector<int64_t> rows_of;  // the batch row of each masked position
    {
      std::vector<CaptionSample> samples;
      for (int64_t i = first; i < last; ++i) samples.push_back(data.get(i));
      int64_t L = 0;
      for (auto& s : samples)
        L = std::max<int64_t>(L, options.max_length > 0 ? std::min<int64_t>(options.max_length,
                                                                           int64_t(s.ids.size()))
                                                        : int64_t(s.ids.size()));
      b.tokens.batch = last - first, b.tokens.length = L;
      b.tokens.ids.assign(size_t(b.tokens.batch * L), options.masking.pad_id);
      b.tokens.mask.assign(size_t(b.tokens.batch * L), 0);
      for (int64_t r = 0; r < b.tokens.batch; ++r) {
        TrainRng rng(options.seed, uint64_t(first + r));
        MaskedBatch one = make_masked_batch({samples[size_t(r)]}, options.masking, V, rng, options.max_length);
        const int64_t n = one.tokens.length;
        std::copy(one.tokens.ids.begin(), one.tokens.ids.end(), b.tokens.ids.begin() + r * L);
        std::fill(b.tokens.mask.begin() + r * L, b.tokens.mask.begin() + r * L + n, 1);
        b.tokens.lengths.push_back(n);
        for (size_t j = 0; j < one.positions.size(); ++j) {
          b.positions.push_back(r * L + one.positions[j]);
          b.targets.push_back(one.targets[j]);
          b.classes.push_back(one.classes[j]);
          b.actions.push_back(one.actions[j]);
        }
      }
    }
    Tensor logits = masked_token_logits(model, b, options.compute);  // [M, V]
    loss_sum += double(cross_entropy(logits, b.targets).item()) * double(b.targets.size());
    n_tokens += int64_t(b.targets.size());
    const std::vector<float> l = logits.to_vector();
    for (size_t j = 0; j < b.targets.size(); ++j) {
      const float* row = l.data() + j * size_t(V);
      const int32_t best = int32_t(std::max_element(row, row + V) - row);
      const size_t k = size_t(b.classes[j]);
      acc.total[k] += 1;
      acc.correct[k] += best == b.targets[j];
    }
  }
  acc.loss = n_tokens ? loss_sum / double(n_tokens) : 0.0;
  return acc;
}

// ---- trainer ---------------------------------------------------------------------------------
TextTrainer::TextTrainer(TextEncoder& model, const CaptionSource& data, const TextTrainerOptions& options)
    : model_(model),
      data_(data),
      options_(options),
      state_("kinema.train.text/1", text_keys(model.config()), model.parameters(), data.size(), options,
             0x746578742d6b6eULL) {
  check(options.split == TrainLoopOptions::Split::data, kWhere,
        "the text encoder trains data-parallel only (sequence parallelism splits the DiT's tokens)");
  check(options.batch_size > 0 && options.accumulation > 0, kWhere,
        "batch size and accumulation must be positive; got ", options.batch_size, " and ",
        options.accumulation);
  check(options.compute == DType::f32 || options.compute == DType::bf16, kWhere,
        "compute dtype must be f32 or bf16; got ", dtype_name(options.compute));
  options.masking.validate(model.config().vocab_size);
}

StepStats TextTrainer::step() {
  auto t0 = std::chrono::steady_clock::now();
  double loss_sum = 0;
  for (int64_t m = 0; m < state_.micro_batches(); ++m) {
    std::vector<CaptionSample> samples;
    for (int64_t i = 0; i < options_.batch_size; ++i) samples.push_back(data_.get(state_.order().next()));
    // Another rank's micro-batch is still drawn (its masks use the RNG), not computed.
    MaskedBatch b = make_masked_batch(samples, options_.masking, model_.config().vocab_size,
                                      state_.rng(), options_.max_length);
    if (!state_.owns_micro_batch(m)) continue;
    Tensor loss = masked_token_loss(model_, b, options_.compute);
    loss_sum += loss.item();
    backward(scale(loss, state_.loss_scale()));
  }
  StepStats s;
  s.loss = state_.mean_loss(loss_sum);
  state_.finish_step(s);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

TensorFile TextTrainer::ema_tensors() const { return state_.with_ema(model_.to_tensors()); }
std::string TextTrainer::save(const std::string& dir) const { return state_.save(dir, model_.to_tensors()); }
void TextTrainer::load(const std::string& dir) { state_.load(dir); }

}  // namespace kinema
