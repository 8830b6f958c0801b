// The few parts of protobuf's wire format that sentencepiece's ModelProto uses (proto2: varints,
// length-delimited strings and messages, 32-bit floats), written from the format's spec so
// kinema can build a model from a Hugging Face tokenizer.json without protobuf's generated code
// (Debian's libsentencepiece-dev ships no sentencepiece_model.pb.h).
//
// Field numbers are those of sentencepiece's sentencepiece_model.proto:
//   ModelProto:      1 pieces (SentencePiece), 2 trainer_spec, 3 normalizer_spec
//   SentencePiece:   1 piece, 2 score (float), 3 type (NORMAL 1, UNKNOWN 2, CONTROL 3,
//                    USER_DEFINED 4, BYTE 6)
//   TrainerSpec:     3 model_type (UNIGRAM 1), 4 vocab_size, 35 byte_fallback, 40..43 unk/bos/
//                    eos/pad id, 45..48 unk/bos/eos/pad piece
//   NormalizerSpec:  1 name, 2 precompiled_charsmap, 3 add_dummy_prefix,
//                    4 remove_extra_whitespaces, 5 escape_whitespaces
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kinema::text::proto {

enum class PieceType : int { normal = 1, unknown = 2, control = 3, user_defined = 4, byte = 6 };

namespace field {
constexpr int kModelPieces = 1, kModelTrainerSpec = 2, kModelNormalizerSpec = 3;
constexpr int kPiece = 1, kPieceScore = 2, kPieceType = 3;
constexpr int kTrainerModelType = 3, kTrainerVocabSize = 4, kTrainerByteFallback = 35;
constexpr int kTrainerUnkId = 40, kTrainerBosId = 41, kTrainerEosId = 42, kTrainerPadId = 43;
constexpr int kTrainerUnkPiece = 45, kTrainerBosPiece = 46, kTrainerEosPiece = 47, kTrainerPadPiece = 48;
constexpr int kNormName = 1, kNormCharsmap = 2, kNormAddDummyPrefix = 3, kNormRemoveExtraWhitespaces = 4,
              kNormEscapeWhitespaces = 5;
}  // namespace field

class Writer {
 public:
  void varint_field(int number, int64_t value);  // int32/int64/enum/bool (negatives: 10 bytes)
  void float_field(int number, float value);
  void bytes_field(int number, std::string_view bytes);  // strings and nested messages
  const std::string& bytes() const { return out_; }

 private:
  void varint(uint64_t v);
  std::string out_;
};

// One field of a message as read: wire type 0 (varint: value), 2 (bytes), 5 (fixed32: value).
struct Field {
  int number = 0, wire = 0;
  uint64_t value = 0;
  std::string_view bytes;
};

// The fields of one message, in order; Error on a malformed message (truncated, bad wire type).
std::vector<Field> read_fields(std::string_view message);
float as_float(const Field& f);  // a fixed32 field's bits as a float

}  // namespace kinema::text::proto
