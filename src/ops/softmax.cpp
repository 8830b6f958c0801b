// softmax and log_softmax along one axis (moved last for the row kernel).
#include "backend/cpu/exec.hpp"
#include "backend/cpu/reduce_exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {
namespace {

Tensor softmax_impl(const Tensor& x, int axis, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  int nd = x.ndim();
  KINEMA_CHECK(nd > 0, name, "needs at least one dim");
  KINEMA_CHECK(axis >= -nd && axis < nd, name, "axis ", axis, " out of range for ", shape_str(x.shape()));
  int a = axis < 0 ? axis + nd : axis;
  Tensor xt = a == nd - 1 ? x.detach() : transpose(x.detach(), a, -1);
  Tensor src = as_f32_contiguous(xt);
  Tensor y = Tensor::empty(src.shape(), DType::f32);
  int64_t len = src.shape().back(), rows = len ? src.numel() / len : 0;
  auto k = current_context().reference_kernels() ? softmax_rows_f32_ref : softmax_rows_f32;
  const float* p = src.data<float>();
  float* q = y.data<float>();
  parallel_for(rows, 4, [&](int64_t b, int64_t e) { k(p + b * len, q + b * len, e - b, len, log); });
  Tensor out = cast(a == nd - 1 ? y : contiguous(transpose(y, a, -1)), x.dtype());
  return record(out, name, {x}, [a, log, y = out.detach()](const Tensor& g) {
    Tensor gx;
    if (log)  // d log_softmax: g - softmax * sum(g)
      gx = sub(g, mul(exp(y), sum(g, {{a}, true})));
    else  // d softmax: y * (g - sum(g * y))
      gx = mul(y, sub(g, sum(mul(g, y), {{a}, true})));
    return std::vector<Tensor>{cast(gx, y.dtype())};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) { return softmax_impl(x, axis, false); }
Tensor log_softmax(const Tensor& x, int axis) { return softmax_impl(x, axis, true); }

namespace {

std::vector<OpCase> cases_for(bool log) {
  std::vector<OpCase> cases;
  uint64_t seed = 700;
  const char* name = log ? "log_softmax" : "softmax";
  for (DType t : {DType::f32, DType::bf16})
    for (int axis : {-1, 1})
      for (Layout l : {Layout::contiguous, Layout::strided}) {
        Tensor x = test_input({3, 17, 40}, t, seed++, l, -4.f, 4.f);
        OpCase c;
        c.repro = std::string(name) + "(x=" + describe(x) + ", axis=" + std::to_string(axis) + ")";
        c.inputs = {x};
        c.run = [axis, log](const std::vector<Tensor>& in) {
          return log ? log_softmax(in[0], axis) : softmax(in[0], axis);
        };
        c.torch = std::string("lambda x: torch.") + (log ? "log_softmax" : "softmax") + "(x, " +
                  std::to_string(axis) + ")";
        c.reduction = 40;
        cases.push_back(std::move(c));
      }
  return cases;
}
std::vector<OpCase> softmax_cases() { return cases_for(false); }
std::vector<OpCase> log_softmax_cases() { return cases_for(true); }

}  // namespace

extern const OpDef kOpSoftmax{"softmax", softmax_cases};
extern const OpDef kOpLogSoftmax{"log_softmax", log_softmax_cases};

}  // namespace kinema
