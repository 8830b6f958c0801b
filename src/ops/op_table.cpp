// Every op kinema has, in one list. The harness walks it; an op missing here is untested,
// and an entry without cases fails the harness.
#include "ops/registry.hpp"

namespace kinema {

#define KINEMA_OPS(X)                                                                        \
  X(Add) X(Sub) X(Mul) X(Div) X(Neg) X(Exp) X(Log) X(Sqrt) X(Rsqrt) X(Square) X(Tanh)        \
  X(Sigmoid) X(Silu) X(Relu) X(GeluTanh) X(GeluErf) X(Scale) X(AddScalar) X(Cast)            \
  X(Contiguous) X(Reshape) X(Permute) X(Slice) X(Expand) X(Concat) X(Pad) X(Sum) X(Mean)     \
  X(Amax) X(SumTo) X(Softmax) X(LogSoftmax) X(Matmul) X(Linear) X(LinearAutocast) \
  X(LayerNorm) X(RmsNorm) X(GroupNorm) X(AdaLnModulate) X(Embedding) X(MseLoss) X(CrossEntropy) \
  X(Conv2d) X(Conv3d) X(Conv3dAutocast) X(UpsampleNearest) X(Rope3d) X(Attention)

#define DECLARE(name) extern const OpDef kOp##name;
KINEMA_OPS(DECLARE)
#undef DECLARE

const std::vector<const OpDef*>& all_ops() {
#define ENTRY(name) &kOp##name,
  static const std::vector<const OpDef*> ops{KINEMA_OPS(ENTRY)};
#undef ENTRY
  return ops;
}

}  // namespace kinema
