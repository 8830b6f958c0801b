// Tokenizer: libsentencepiece behind kinema's API (include/kinema/tokenizer.hpp).
// sentencepiece reports failures as util::Status; every one becomes a kinema::Error here.
#include "kinema/tokenizer.hpp"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "kinema/error.hpp"
#include "models/text/tokenizer_json.hpp"

namespace kinema {

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

namespace {

constexpr const char* kWhere = "tokenizer";

Tokenizer::Impl* checked_impl(const std::shared_ptr<const Tokenizer::Impl>& impl) {
  KINEMA_CHECK(impl != nullptr, kWhere, "tokenizer is empty; create it with Tokenizer::load");
  return const_cast<Tokenizer::Impl*>(impl.get());
}

}  // namespace

Tokenizer Tokenizer::from_bytes(const std::string& bytes) {
  // A tokenizer.json becomes the sentencepiece model it describes (models/text/tokenizer_json.hpp).
  const bool json = text::looks_like_json(bytes);
  const std::string serialized = json ? text::sentencepiece_from_hf_json(bytes) : bytes;
  auto impl = std::make_shared<Impl>();
  auto status = impl->sp.LoadFromSerializedProto(serialized);
  KINEMA_CHECK(status.ok(), kWhere, json ? "sentencepiece rejects the model this tokenizer.json describes ("
                                         : "not a sentencepiece model (",
               bytes.size(), " bytes): ", status.ToString());
  KINEMA_CHECK(impl->sp.GetPieceSize() > 0, kWhere, "sentencepiece model has no pieces");
  Tokenizer t;
  t.impl_ = std::move(impl);
  return t;
}

Tokenizer Tokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  KINEMA_CHECK(in.good(), kWhere, "cannot open tokenizer model \"", path,
               "\"; expected a sentencepiece .model file or a Hugging Face tokenizer.json (kinema ships "
               "models/default/tokenizer.model)");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return from_bytes(bytes);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " in \"" + path + "\"");
  }
}

int64_t Tokenizer::vocab_size() const { return checked_impl(impl_)->sp.GetPieceSize(); }
int32_t Tokenizer::pad_id() const { return checked_impl(impl_)->sp.pad_id(); }
int32_t Tokenizer::eos_id() const { return checked_impl(impl_)->sp.eos_id(); }
int32_t Tokenizer::unk_id() const { return checked_impl(impl_)->sp.unk_id(); }

std::string Tokenizer::piece(int32_t id) const {
  Impl* p = checked_impl(impl_);
  KINEMA_CHECK(id >= 0 && id < p->sp.GetPieceSize(), kWhere, "id ", id,
               " is outside the vocabulary [0, ", p->sp.GetPieceSize(), ")");
  return p->sp.IdToPiece(id);
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, const EncodeOptions& options) const {
  Impl* p = checked_impl(impl_);
  std::vector<int> ids;
  auto status = p->sp.Encode(text, &ids);
  KINEMA_CHECK(status.ok(), kWhere, "cannot encode text: ", status.ToString());
  std::vector<int32_t> out(ids.begin(), ids.end());
  if (options.add_eos) {
    KINEMA_CHECK(p->sp.eos_id() >= 0, kWhere, "the model has no eos piece; encode with add_eos = false");
    out.push_back(p->sp.eos_id());
  }
  return out;
}

std::vector<std::string> Tokenizer::encode_pieces(const std::string& text) const {
  std::vector<std::string> pieces;
  auto status = checked_impl(impl_)->sp.Encode(text, &pieces);
  KINEMA_CHECK(status.ok(), kWhere, "cannot encode text: ", status.ToString());
  return pieces;
}

TokenBatch Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                   const PadOptions& options) const {
  KINEMA_CHECK(options.length >= 0, kWhere, "pad length must be >= 0; got ", options.length);
  int32_t pad = pad_id(), eos = eos_id();
  KINEMA_CHECK(pad >= 0, kWhere, "the model has no pad piece; cannot pad a batch");
  std::vector<std::vector<int32_t>> rows;
  int64_t longest = 0;
  for (const std::string& text : texts) {
    rows.push_back(encode(text, {options.add_eos}));
    longest = std::max<int64_t>(longest, int64_t(rows.back().size()));
  }
  TokenBatch b;
  b.batch = int64_t(texts.size());
  b.length = options.length > 0 ? options.length : longest;
  b.ids.assign(size_t(b.batch * b.length), pad);
  b.mask.assign(size_t(b.batch * b.length), 0);
  for (int64_t r = 0; r < b.batch; ++r) {
    std::vector<int32_t>& ids = rows[size_t(r)];
    if (int64_t(ids.size()) > b.length) {  // truncate, keeping eos last as HF tokenizers do
      ids.resize(size_t(b.length));
      if (options.add_eos && b.length > 0) ids.back() = eos;
    }
    std::copy(ids.begin(), ids.end(), b.ids.begin() + r * b.length);
    std::fill_n(b.mask.begin() + r * b.length, ids.size(), 1);
    b.lengths.push_back(int64_t(ids.size()));
  }
  return b;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  Impl* p = checked_impl(impl_);
  std::vector<int> keep;
  for (int32_t id : ids) {
    KINEMA_CHECK(id >= 0 && id < p->sp.GetPieceSize(), kWhere, "id ", id,
                 " is outside the vocabulary [0, ", p->sp.GetPieceSize(), ")");
    if (id != p->sp.pad_id() && id != p->sp.eos_id()) keep.push_back(id);
  }
  std::string text;
  auto status = p->sp.Decode(keep, &text);
  KINEMA_CHECK(status.ok(), kWhere, "cannot decode ids: ", status.ToString());
  return text;
}

std::string Tokenizer::serialized() const {
  return checked_impl(impl_)->sp.serialized_model_proto();
}

}  // namespace kinema
