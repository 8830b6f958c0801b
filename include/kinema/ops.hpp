// kinema's ops: every function here validates its inputs (throwing kinema::Error naming the op
// and the shapes), computes its output on the current context's kernels, and records its vjp
// when an input requires grad. Shapes are outermost first. Elementwise ops broadcast like
// NumPy. Float ops accept f32, bf16 and f16 inputs, compute in f32 and return the promoted
// dtype (f32 if any input is f32, else the inputs' common 16-bit type, else f32).
#pragma once
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "kinema/tensor.hpp"

namespace kinema {

// ---- dtype and layout -------------------------------------------------------------------
Tensor cast(const Tensor& x, DType dtype);          // quantized targets quantize along last dim
Tensor contiguous(const Tensor& x);                 // returns x itself when already contiguous
Tensor reshape(const Tensor& x, const Shape& shape);  // one dim may be -1; views when possible
Tensor permute(const Tensor& x, const std::vector<int>& axes);  // a view
Tensor transpose(const Tensor& x, int axis0, int axis1);        // a view
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);  // a view, [start, end)
Tensor expand(const Tensor& x, const Shape& shape);  // broadcasting view (stride 0)
Tensor concat(const std::vector<Tensor>& xs, int axis);
// pads[axis] = {before, after}; one pair per axis of x
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads, float value = 0);

// ---- elementwise ------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float s);      // x * s
Tensor add_scalar(const Tensor& x, float s);  // x + s
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor relu(const Tensor& x);
enum class GeluApprox { none, tanh };  // none = exact erf form
Tensor gelu(const Tensor& x, GeluApprox approx = GeluApprox::tanh);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }

// ---- reductions ---------------------------------------------------------------------------
struct ReduceOptions {
  std::vector<int> axes;  // empty = all axes
  bool keepdim = false;
};
Tensor sum(const Tensor& x, const ReduceOptions& options = {});
Tensor mean(const Tensor& x, const ReduceOptions& options = {});
Tensor amax(const Tensor& x, int axis, bool keepdim = false);  // gradient flows to the maxima
Tensor sum_to(const Tensor& x, const Shape& shape);  // sums broadcast dims away (vjp of broadcast)

// ---- neural network ---------------------------------------------------------------------
Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);
// Normalizes over the last dim; weight/bias [D] optional (pass an undefined Tensor).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);
// adaLN modulation (DiT, Wan): layer_norm(x) * (1 + scale) + shift, the norm without affine
// parameters; x [B, N, D], shift and scale [B, 1, D] (one per sample) or [B, N, D] (per token).
Tensor adaln_modulate(const Tensor& x, const Tensor& shift, const Tensor& scale, float eps = 1e-6f);
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps = 1e-6f);
// x [N, C, ...]; normalizes each of `groups` channel groups over (C/groups, ...).
Tensor group_norm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias,
                  float eps = 1e-5f);

// a [..., M, K] @ b [..., K, N] -> [..., M, N], batch dims broadcast. Quantized b (q8_0, q4_0)
// is dequantized on the fly. bf16 inputs accumulate in f32.
Tensor matmul(const Tensor& a, const Tensor& b);
// x [..., K], weight [N, K] (PyTorch nn.Linear layout, any dtype incl. quantized), bias [N].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
// Mixed precision's linear: x @ weight^T + bias with an f32 result and f32 gradients, the
// products in `compute` (bf16: x and weight rounded to bf16 once, f32 accumulation and output,
// the bias added in f32). Quantized weights go through linear() in the compute dtype.
Tensor linear_autocast(const Tensor& x, const Tensor& weight, const Tensor& bias, DType compute);

// weight [V, D], ids (values in [0, V)) with shape ids_shape -> ids_shape + [D]
Tensor embedding(const Tensor& weight, const std::vector<int32_t>& ids, const Shape& ids_shape);

// Rotary position embedding over a (t, h, w) grid. x [B, T*H*W, heads, D] with D even; the
// D/2 frequency pairs are split into (t, h, w) groups of sizes dims (sum = D/2), each rotating
// by position * theta^(-2i/group_dim·…) as in Wan/Open-Sora (see rope3d.cpp for the formula).
struct Rope3dOptions {
  int64_t t = 1, h = 1, w = 1;               // the grid; T*H*W must equal x's dim 1
  int64_t t_offset = 0, h_offset = 0, w_offset = 0;  // position of the grid's first cell
  std::vector<int64_t> dims;                 // pairs per axis; empty = Wan's split
  float theta = 10000.f;
};
Tensor rope3d(const Tensor& x, const Rope3dOptions& options);

// Scaled dot-product attention. q [B, H, Nq, D], k/v [B, H, Nk, D]; mask (optional) is additive,
// broadcastable to [B, H, Nq, Nk]. scale defaults to 1/sqrt(D). Flash-style: the Nq x Nk matrix
// is never materialised in forward or backward.
struct AttentionOptions {
  float scale = 0;  // 0 = 1/sqrt(D)
  bool causal = false;
  // bf16: the products in bf16 whatever the inputs' dtype (as if q, k, v were cast to bf16,
  // without the cast's passes), on a CPU with bf16 dot products; else as the inputs are.
  bool bf16_products = false;
};
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask = {},
                 const AttentionOptions& options = {});

// Convolution, PyTorch layouts: x [N, C, (T,) H, W], weight [O, C/groups, (kT,) kH, kW].
struct ConvOptions {
  std::vector<int64_t> stride;      // per spatial axis; empty = 1
  std::vector<int64_t> padding;     // symmetric, per spatial axis; empty = 0
  bool causal_time = false;         // conv3d: pad time by (kT-1)*dilation in front only
};
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const ConvOptions& options = {});
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const ConvOptions& options = {});
// Mixed precision's conv3d (as linear_autocast): f32 result and gradients, the products in
// `compute` (bf16: x and weight rounded to bf16 once, f32 accumulation, outputs and bias).
Tensor conv3d_autocast(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options,
                       DType compute);

// Nearest-neighbour upsampling of the trailing spatial axes by integer factors.
Tensor upsample_nearest(const Tensor& x, const std::vector<int64_t>& factors);

// ---- losses -------------------------------------------------------------------------------
Tensor mse_loss(const Tensor& prediction, const Tensor& target);  // mean of squares
// logits [N, C], targets N class ids; mean negative log-likelihood
Tensor cross_entropy(const Tensor& logits, const std::vector<int32_t>& targets);

}  // namespace kinema
