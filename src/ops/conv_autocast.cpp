// The VAE's convolution under mixed precision: f32 activations and master weights in, bf16
// products, f32 out. oneDNN writes the forward's output, the input gradient and the weight
// gradient in f32 itself, so no pass rounds them to bf16 and widens them again: at the default
// VAE's 16-32 channels the bf16 convolutions run 2-5x faster than f32 (bench_conv3d).
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/conv_passes.hpp"
#include "ops/registry.hpp"

namespace kinema {

Tensor conv3d_autocast(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& o, DType compute) {
  KINEMA_CHECK(compute == DType::f32 || compute == DType::bf16, "conv3d_autocast",
               "compute must be f32 or bf16; got ", dtype_name(compute));
  if (compute == DType::f32)
    return conv3d(cast(x, DType::f32), cast(w, DType::f32), b.defined() ? cast(b, DType::f32) : b, o);
  ConvDesc d = describe_conv("conv3d_autocast", 3, x, w, b, o);
  // Without bf16 dot products oneDNN emulates bf16 at a fraction of f32 speed: there the
  // passes run in f32 on the bf16-rounded values (the same numbers).
  const DType pass = cpu_has_bf16_dot() ? DType::bf16 : DType::f32;
  d.f32_results = pass == DType::bf16;
  auto rounded = [pass](const Tensor& t) { return to_dtype(cast(t.detach(), DType::bf16), pass); };
  Tensor xc = rounded(x), wc = rounded(w);
  Tensor bf = b.defined() ? to_dtype(b, DType::f32) : Tensor();
  Tensor y = Tensor::empty(out_shape(d));  // f32
  run_pass(d, ConvPass::forward, xc, wc, y, Tensor(), bf);
  return record(y, "conv3d_autocast", {x, w, b},
                [d, xc, wc, rounded, xs = x.shape(), ws = w.shape(), xt = x.dtype(), wt = w.dtype(),
                 bt = b.defined() ? b.dtype() : DType::f32, has_b = b.defined()](const Tensor& g) {
                  Tensor gc = rounded(g);
                  Tensor dx = Tensor::empty(xs), dw = Tensor::empty(ws);
                  Tensor db = has_b ? Tensor::empty({d.o}) : Tensor();
                  run_pass(d, ConvPass::backward_data, gc, wc, dx, Tensor(), Tensor());
                  run_pass(d, ConvPass::backward_weights, xc, gc, dw, db, Tensor());
                  return std::vector<Tensor>{cast(dx, xt), cast(dw, wt), has_b ? cast(db, bt) : Tensor()};
                });
}

namespace {

std::vector<OpCase> conv3d_autocast_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 2100;
  for (DType compute : {DType::f32, DType::bf16})
    for (bool causal : {false, true}) {
      // Inputs exact in bf16, so bf16 compute rounds nothing the oracle does not see; a bf16
      // bias sets the harness's tolerance to bf16's for the products' roundings.
      Tensor x = cast(test_input({2, 3, 5, 6, 7}, DType::bf16, seed++), DType::f32);
      Tensor w = cast(test_input({4, 3, 3, 3, 3}, DType::bf16, seed++, Layout::contiguous, -0.5f, 0.5f), DType::f32);
      Tensor b = test_input({4}, compute, seed++);
      ConvOptions o{{1, 1, 1}, {causal ? 0 : 1, 1, 1}, causal};
      OpCase c;
      c.repro = "conv3d_autocast(x=" + describe(x) + ", w=" + describe(w) + ", b=" + describe(b) +
                (causal ? ", causal, " : ", pad=1, ") + std::string(dtype_name(compute)) + ")";
      c.inputs = {x, w, b};
      c.run = [o, compute](const std::vector<Tensor>& in) { return conv3d_autocast(in[0], in[1], in[2], o, compute); };
      c.torch = causal ? "lambda x, w, b: F.conv3d(F.pad(x, (1, 1, 1, 1, 2, 0)), w, b)"
                       : "lambda x, w, b: F.conv3d(x, w, b, padding=1)";
      c.reduction = 81;
      c.finite_differences = compute == DType::f32;  // rounding to bf16 is a step function
      cases.push_back(std::move(c));
    }
  return cases;
}

}  // namespace

extern const OpDef kOpConv3dAutocast{"conv3d_autocast", conv3d_autocast_cases};

}  // namespace kinema
