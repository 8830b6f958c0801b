// The image encoder of Wan I2V/FLF2V: the vision tower of open-clip's xlm-roberta-large-vit-huge-14
// (Wan's clip.py VisionTransformer): 14x14 patches of a 224x224 image, a class token, learnt
// positions, pre-norm, 32 pre-LN blocks (fused qkv, exact GELU MLP). Wan conditions on the
// output of the penultimate block (use_31_block): [B, 257, 1280], no final norm.
#pragma once
#include <map>
#include <string>

#include "kinema/tensor.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema {

struct ClipVisionConfig {
  int64_t image_size = 224, patch_size = 14, dim = 1280, num_heads = 16, num_layers = 32;
  int64_t mlp_dim = 5120;
  float eps = 1e-5f;
  int64_t tokens() const { return (image_size / patch_size) * (image_size / patch_size) + 1; }
};

class ClipVision {
 public:
  // Wan's checkpoint keys (open-clip-xlm-roberta-large-vit-huge-14.pth): "visual.*" tensors,
  // the text tower's ignored; the "visual." prefix may be absent. The config comes from the
  // shapes; num_heads from metadata "num_heads" or dim / 80 (ViT-H's head width).
  static ClipVision from_tensors(const TensorFile& file);
  const ClipVisionConfig& config() const { return config_; }
  // images [B, 3, S, S] already normalised with kClipMean/kClipStd -> the tokens after block
  // `layers` (default: all but the last, as Wan's use_31_block) [B, tokens, dim].
  Tensor forward(const Tensor& images, int64_t layers = -1) const;

 private:
  const Tensor& w(const std::string& name) const;
  ClipVisionConfig config_;
  std::map<std::string, Tensor> weights_;
};

inline constexpr float kClipMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr float kClipStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

}  // namespace kinema
