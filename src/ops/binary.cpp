// add, sub, mul, div with NumPy broadcasting. vjps sum the cotangent back over broadcast axes.
#include "backend/cpu/exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = run_binary(BinaryOp::add, a, b, "add");
  return record(out, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = run_binary(BinaryOp::sub, a, b, "sub");
  return record(out, "sub", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(neg(g), sb)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = run_binary(BinaryOp::mul, a, b, "mul");
  return record(out, "mul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(mul(g, b), a.shape()), sum_to(mul(g, a), b.shape())};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = run_binary(BinaryOp::div, a, b, "div");
  return record(out, "div", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
    Tensor ga = div(g, b);
    Tensor gb = neg(div(mul(ga, a), b));  // -g a / b^2
    return std::vector<Tensor>{sum_to(ga, a.shape()), sum_to(gb, b.shape())};
  });
}

namespace {

std::vector<OpCase> binary_cases(const char* name, Tensor (*fn)(const Tensor&, const Tensor&),
                                 const char* torch) {
  struct Sh {
    Shape a, b;
  };
  const Sh shapes[] = {{{7, 13}, {7, 13}}, {{3, 1, 5}, {4, 5}}, {{1}, {6, 7}},
                       {{2, 3, 4, 5}, {3, 1, 5}}, {{33}, {33}}, {{}, {2, 3}}};
  std::vector<OpCase> cases;
  uint64_t seed = 1;
  bool is_div = std::string(name) == "div";
  for (const Sh& s : shapes)
    for (DType da : {DType::f32, DType::bf16})
      for (DType db : {DType::f32, DType::bf16, DType::f16})
        for (Layout l : {Layout::contiguous, Layout::strided}) {
          if (l == Layout::strided && s.a.size() < 2) continue;
          Tensor a = test_input(s.a, da, seed++, l);
          // divisors kept away from zero so finite differences stay meaningful
          Tensor b = is_div ? test_input(s.b, db, seed++, Layout::contiguous, 0.5f, 2.f)
                            : test_input(s.b, db, seed++, l);
          OpCase c;
          c.repro = std::string(name) + "(a=" + describe(a) + ", b=" + describe(b) + ")";
          c.inputs = {a, b};
          c.run = [fn](const std::vector<Tensor>& in) { return fn(in[0], in[1]); };
          c.torch = torch;
          cases.push_back(std::move(c));
        }
  return cases;
}

std::vector<OpCase> add_cases() { return binary_cases("add", add, "lambda a, b: a + b"); }
std::vector<OpCase> sub_cases() { return binary_cases("sub", sub, "lambda a, b: a - b"); }
std::vector<OpCase> mul_cases() { return binary_cases("mul", mul, "lambda a, b: a * b"); }
std::vector<OpCase> div_cases() { return binary_cases("div", div, "lambda a, b: a / b"); }

}  // namespace

extern const OpDef kOpAdd{"add", add_cases};
extern const OpDef kOpSub{"sub", sub_cases};
extern const OpDef kOpMul{"mul", mul_cases};
extern const OpDef kOpDiv{"div", div_cases};

}  // namespace kinema
