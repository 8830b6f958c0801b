// Frame review (issue 9): the NSFW image classifier shipped in the npm package nsfwjs (pinned in
// third_party/nsfwjs; its MobileNetV2, a Keras model converted to TF.js with uint8-quantized
// weights) run on kinema's own engine.
//
//  - load_tfjs_model reads a TF.js model directory (model.json: topology + weightsManifest, and
//    its weight shards), dequantizing uint8/uint16/float16 weights into f32 Tensors;
//  - FrameClassifier interprets the Keras layers topology (Conv2D, DepthwiseConv2D as a grouped
//    conv, BatchNormalization folded into the conv before it, ReLU/ReLU6, ZeroPadding2D, Add,
//    average pooling, Flatten, Dense, Dropout) in NCHW, and preprocesses like nsfwjs
//    (x / 255, bilinear resize with aligned corners to 224x224).
// Malformed files throw Error naming the file and the field; they never crash.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kinema/tensor.hpp"

namespace kinema {

struct TfjsModel {
  std::string model_json;                // model.json as read (topology is parsed by its user)
  std::map<std::string, Tensor> weights;  // manifest name ("Conv1/kernel") -> f32 tensor
};

// Reads DIR/model.json and the shards its weightsManifest names (paths relative to DIR).
TfjsModel load_tfjs_model(const std::string& dir);
// The same from memory: read_shard(path) returns a shard's bytes (or throws). `source` names the
// model in errors.
TfjsModel parse_tfjs_model(std::string_view model_json,
                           const std::function<std::string(const std::string&)>& read_shard,
                           const std::string& source = "model.json");

// nsfwjs's classes, in the order of the model's outputs.
enum class NsfwClass : int { drawing, hentai, neutral, porn, sexy };
inline constexpr int kNsfwClasses = 5;
const char* nsfw_class_name(NsfwClass c);  // "Drawing", "Hentai", "Neutral", "Porn", "Sexy"

// An RGB image, 8 bits per channel, rows top to bottom, pixels interleaved (R, G, B).
struct RgbImage {
  int64_t width = 0, height = 0;
  const uint8_t* data = nullptr;  // width * height * 3 bytes
};

class FrameClassifier {
 public:
  // A TF.js layers-format model directory (model.json + shards).
  static FrameClassifier load(const std::string& dir);
  // $KINEMA_NSFW_MODEL, else the MobileNetV2 extracted from nsfwjs at build time.
  static FrameClassifier load_default();

  // nsfwjs's preprocessing: [N, 3, S, S] f32 in [0, 1] (S = input_size()).
  Tensor preprocess(const std::vector<RgbImage>& images) const;
  // x [N, 3, S, S] -> probabilities [N, 5] (the model's softmax output).
  Tensor forward(const Tensor& x) const;
  // One image -> P(Drawing, Hentai, Neutral, Porn, Sexy).
  std::array<float, kNsfwClasses> classify(const RgbImage& image) const;
  int64_t input_size() const { return input_size_; }

  struct Layer;  // one prepared Keras layer (src/safety/frames/keras_graph.cpp)
  FrameClassifier();
  ~FrameClassifier();
  FrameClassifier(FrameClassifier&&) noexcept;
  FrameClassifier& operator=(FrameClassifier&&) noexcept;

 private:
  std::vector<Layer> layers_;
  std::string output_;
  int64_t input_size_ = 224;
};

}  // namespace kinema
