// Pointwise math: one table row per op gives its kernel, its vjp and its PyTorch oracle.
#include <string>

#include "backend/cpu/exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {
namespace {

// f'(x) on the same kernels (no graph: used inside vjps only).
Tensor derivative(UnaryOp op, const Tensor& x) { return run_unary(op, x); }

Tensor unary(UnaryOp op, const char* name, const Tensor& x, float p = 0.f) {
  Tensor y = run_unary(op, x, p);
  return record(y, name, {x}, [op, p, x = x.detach(), y = y.detach()](const Tensor& g) {
    Tensor gx;
    switch (op) {
      case UnaryOp::neg: gx = neg(g); break;
      case UnaryOp::exp: gx = mul(g, y); break;
      case UnaryOp::log: gx = div(g, x); break;
      case UnaryOp::sqrt: gx = div(g, scale(y, 2.f)); break;
      case UnaryOp::rsqrt: gx = mul(g, scale(mul(y, square(y)), -0.5f)); break;
      case UnaryOp::square: gx = mul(g, scale(x, 2.f)); break;
      case UnaryOp::tanh: gx = mul(g, add_scalar(neg(square(y)), 1.f)); break;
      case UnaryOp::sigmoid: gx = mul(g, mul(y, add_scalar(neg(y), 1.f))); break;
      case UnaryOp::silu: gx = mul(g, derivative(UnaryOp::silu_grad, x)); break;
      case UnaryOp::relu: gx = mul(g, derivative(UnaryOp::relu_grad, x)); break;
      case UnaryOp::gelu_tanh: gx = mul(g, derivative(UnaryOp::gelu_tanh_grad, x)); break;
      case UnaryOp::gelu_erf: gx = mul(g, derivative(UnaryOp::gelu_erf_grad, x)); break;
      case UnaryOp::scale: gx = scale(g, p); break;
      case UnaryOp::add_scalar: gx = g; break;
      default: break;
    }
    if (gx.defined() && gx.dtype() != x.dtype()) gx = cast(gx, x.dtype());
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor neg(const Tensor& x) { return unary(UnaryOp::neg, "neg", x); }
Tensor exp(const Tensor& x) { return unary(UnaryOp::exp, "exp", x); }
Tensor log(const Tensor& x) { return unary(UnaryOp::log, "log", x); }
Tensor sqrt(const Tensor& x) { return unary(UnaryOp::sqrt, "sqrt", x); }
Tensor rsqrt(const Tensor& x) { return unary(UnaryOp::rsqrt, "rsqrt", x); }
Tensor square(const Tensor& x) { return unary(UnaryOp::square, "square", x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::tanh, "tanh", x); }
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::sigmoid, "sigmoid", x); }
Tensor silu(const Tensor& x) { return unary(UnaryOp::silu, "silu", x); }
Tensor relu(const Tensor& x) { return unary(UnaryOp::relu, "relu", x); }
Tensor gelu(const Tensor& x, GeluApprox approx) {
  return approx == GeluApprox::tanh ? unary(UnaryOp::gelu_tanh, "gelu_tanh", x)
                                    : unary(UnaryOp::gelu_erf, "gelu_erf", x);
}
Tensor scale(const Tensor& x, float s) { return unary(UnaryOp::scale, "scale", x, s); }
Tensor add_scalar(const Tensor& x, float s) { return unary(UnaryOp::add_scalar, "add_scalar", x, s); }

namespace {

struct Domain {
  float lo, hi;
};

std::vector<OpCase> unary_cases(const char* name, Tensor (*fn)(const Tensor&), const char* torch,
                                Domain dom = {-3.f, 3.f}, bool smooth = true) {
  std::vector<OpCase> cases;
  uint64_t seed = 100;
  const Shape shapes[] = {{5, 7}, {2, 3, 16}, {1000}, {}};
  for (const Shape& s : shapes)
    for (DType t : {DType::f32, DType::bf16, DType::f16})
      for (Layout l : {Layout::contiguous, Layout::strided}) {
        if (l == Layout::strided && s.size() < 2) continue;
        Tensor x = test_input(s, t, seed++, l, dom.lo, dom.hi);
        OpCase c;
        c.repro = std::string(name) + "(x=" + describe(x) + ")";
        c.inputs = {x};
        c.run = [fn](const std::vector<Tensor>& in) { return fn(in[0]); };
        c.torch = torch;
        c.finite_differences = smooth;
        cases.push_back(std::move(c));
      }
  return cases;
}

// The same plus one f32 case over [-300, 300], for the logistic-based ops: exp of a large
// argument must not overflow into a wrong result (sigmoid(-200) once came out 1).
std::vector<OpCase> with_wide_case(std::vector<OpCase> cases, const char* name,
                                   Tensor (*fn)(const Tensor&), const char* torch) {
  Tensor x = test_input({1000}, DType::f32, 999, Layout::contiguous, -300.f, 300.f);
  OpCase c;
  c.repro = std::string(name) + "(x=" + describe(x) + " in [-300, 300])";
  c.inputs = {x};
  c.run = [fn](const std::vector<Tensor>& in) { return fn(in[0]); };
  c.torch = torch;
  c.finite_differences = false;  // steps are tiny against inputs this large
  cases.push_back(std::move(c));
  return cases;
}

Tensor gelu_erf_fn(const Tensor& x) { return gelu(x, GeluApprox::none); }
Tensor gelu_tanh_fn(const Tensor& x) { return gelu(x, GeluApprox::tanh); }
Tensor scale_fn(const Tensor& x) { return scale(x, -1.75f); }
Tensor add_scalar_fn(const Tensor& x) { return add_scalar(x, 0.625f); }

std::vector<OpCase> neg_cases() { return unary_cases("neg", neg, "lambda x: -x"); }
std::vector<OpCase> exp_cases() { return unary_cases("exp", exp, "torch.exp"); }
std::vector<OpCase> log_cases() { return unary_cases("log", log, "torch.log", {0.25f, 4.f}); }
std::vector<OpCase> sqrt_cases() { return unary_cases("sqrt", sqrt, "torch.sqrt", {0.25f, 4.f}); }
std::vector<OpCase> rsqrt_cases() { return unary_cases("rsqrt", rsqrt, "torch.rsqrt", {0.25f, 4.f}); }
std::vector<OpCase> square_cases() { return unary_cases("square", square, "torch.square"); }
std::vector<OpCase> tanh_cases() { return unary_cases("tanh", tanh, "torch.tanh"); }
std::vector<OpCase> sigmoid_cases() {
  return with_wide_case(unary_cases("sigmoid", sigmoid, "torch.sigmoid"), "sigmoid", sigmoid,
                        "torch.sigmoid");
}
std::vector<OpCase> silu_cases() {
  const char* torch = "torch.nn.functional.silu";
  return with_wide_case(unary_cases("silu", silu, torch), "silu", silu, torch);
}
std::vector<OpCase> relu_cases() {
  return unary_cases("relu", relu, "torch.relu", {-3.f, 3.f}, /*smooth=*/false);
}
std::vector<OpCase> gelu_tanh_cases() {
  const char* torch = "lambda x: torch.nn.functional.gelu(x, approximate='tanh')";
  return with_wide_case(unary_cases("gelu_tanh", gelu_tanh_fn, torch), "gelu_tanh", gelu_tanh_fn,
                        torch);
}
std::vector<OpCase> gelu_erf_cases() {
  return unary_cases("gelu_erf", gelu_erf_fn, "lambda x: torch.nn.functional.gelu(x)");
}
std::vector<OpCase> scale_cases() { return unary_cases("scale", scale_fn, "lambda x: x * -1.75"); }
std::vector<OpCase> add_scalar_cases() {
  return unary_cases("add_scalar", add_scalar_fn, "lambda x: x + 0.625");
}

}  // namespace

extern const OpDef kOpNeg{"neg", neg_cases};
extern const OpDef kOpExp{"exp", exp_cases};
extern const OpDef kOpLog{"log", log_cases};
extern const OpDef kOpSqrt{"sqrt", sqrt_cases};
extern const OpDef kOpRsqrt{"rsqrt", rsqrt_cases};
extern const OpDef kOpSquare{"square", square_cases};
extern const OpDef kOpTanh{"tanh", tanh_cases};
extern const OpDef kOpSigmoid{"sigmoid", sigmoid_cases};
extern const OpDef kOpSilu{"silu", silu_cases};
extern const OpDef kOpRelu{"relu", relu_cases};
extern const OpDef kOpGeluTanh{"gelu_tanh", gelu_tanh_cases};
extern const OpDef kOpGeluErf{"gelu_erf", gelu_erf_cases};
extern const OpDef kOpScale{"scale", scale_cases};
extern const OpDef kOpAddScalar{"add_scalar", add_scalar_cases};

}  // namespace kinema
