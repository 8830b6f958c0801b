// The models' linear under mixed precision: f32 activations and master weights in, products in
// the compute dtype, f32 out. With bf16 compute, x and w are rounded to bf16 once and the GEMMs
// (forward, dx, dw) write f32 directly, so no pass rounds the output to bf16 and widens it
// again, the GEMM adds the bias in f32, and dx and dw come back in f32: 3-4 passes over every
// activation fewer per linear than cast + linear + add + cast, each a few percent of a step.
#include "backend/cpu/exec.hpp"
#include "backend/cpu/reduce_exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/matmul_f32_out.hpp"
#include "ops/registry.hpp"

namespace kinema {

Tensor linear_autocast(const Tensor& x, const Tensor& w, const Tensor& b, DType compute) {
  KINEMA_CHECK(compute == DType::f32 || compute == DType::bf16, "linear_autocast",
               "compute must be f32 or bf16; got ", dtype_name(compute));
  if (is_quantized(w.dtype()))
    return cast(linear(cast(x, compute), w, b.defined() ? cast(b, compute) : b), DType::f32);
  KINEMA_CHECK(w.ndim() == 2, "linear", "weight must be [out, in]; got ", shape_str(w.shape()));
  KINEMA_CHECK(x.ndim() >= 1 && x.size(-1) == w.size(1), "linear", "input ", shape_str(x.shape()),
               " does not match weight ", shape_str(w.shape()), " (in features ", w.size(1), ")");
  KINEMA_CHECK(!b.defined() || (b.ndim() == 1 && b.size(0) == w.size(0)), "linear", "bias ",
               b.defined() ? shape_str(b.shape()) : "", " does not match ", w.size(0), " outputs");
  const int64_t K = w.size(1), N = w.size(0), M = K ? x.numel() / K : 0;
  Tensor xc = reshape(contiguous(cast(x.detach(), compute)), {M, K});
  Tensor wc = cast(w.detach(), compute);  // [N, K]
  Tensor bf = b.defined() ? as_f32_contiguous(b.detach()) : Tensor();
  Tensor y = matmul_f32_out(xc, transpose(wc, 0, 1), bf);  // [M, N] f32, bias added
  Shape out_shape = x.shape();
  out_shape.back() = N;
  y = reshape(y, out_shape);
  return record(y, "linear_autocast", {x, w, b},
                [xc, wc, xs = x.shape(), xt = x.dtype(), wt = w.dtype(), has_b = b.defined(),
                 bt = b.defined() ? b.dtype() : DType::f32, M, N, compute](const Tensor& g) {
                  Tensor g2 = reshape(as_f32_contiguous(g), {M, N});
                  Tensor gc = contiguous(cast(g2, compute));                          // [M, N]
                  Tensor dx = reshape(matmul_f32_out(gc, wc), xs);                   // [.., K]
                  Tensor dw = matmul_f32_out(transpose(gc, 0, 1), xc);               // [N, K]
                  Tensor db = has_b ? cast(sum(g2, {{0}, false}), bt) : Tensor();  // [N]
                  return std::vector<Tensor>{cast(dx, xt), cast(dw, wt), db};
                });
}

namespace {

std::vector<OpCase> linear_autocast_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 2000;
  for (DType compute : {DType::f32, DType::bf16})
    for (bool with_bias : {false, true}) {
      // Inputs exact in bf16 (so bf16 compute rounds nothing the oracle does not see); the bf16
      // bias, or a bf16 x, sets the harness's tolerance to bf16's for the products' roundings.
      Tensor x = cast(test_input({2, 5, 64}, DType::bf16, seed++), with_bias ? DType::f32 : DType::bf16);
      Tensor w = cast(test_input({24, 64}, DType::bf16, seed++), DType::f32);
      Tensor b = test_input({24}, DType::bf16, seed++);
      if (compute == DType::f32) x = cast(x, DType::f32), b = cast(b, DType::f32);
      OpCase c;
      c.repro = std::string("linear_autocast(x=") + describe(x) + ", w=" + describe(w) +
                (with_bias ? ", b=" + describe(b) : std::string()) + ", " + std::string(dtype_name(compute)) + ")";
      c.inputs = with_bias ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x, w};
      c.run = [compute](const std::vector<Tensor>& in) {
        return linear_autocast(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), compute);
      };
      c.torch = with_bias ? "lambda x, w, b: F.linear(x, w, b)" : "lambda x, w: F.linear(x, w)";
      c.reduction = 64;
      c.finite_differences = compute == DType::f32;  // rounding to bf16 is a step function
      cases.push_back(std::move(c));
    }
  return cases;
}

}  // namespace

extern const OpDef kOpLinearAutocast{"linear_autocast", linear_autocast_cases};

}  // namespace kinema
