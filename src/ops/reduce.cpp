// sum, mean, amax and sum_to. vjps broadcast the cotangent back over the reduced axes.
#include "backend/cpu/exec.hpp"
#include "backend/cpu/reduce_exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {
namespace {

std::vector<bool> axes_mask(const Tensor& x, const std::vector<int>& axes, const char* op) {
  int nd = x.ndim();
  std::vector<bool> m(static_cast<size_t>(nd), axes.empty());
  for (int a : axes) {
    KINEMA_CHECK(a >= -nd && a < nd, op, "axis ", a, " out of range for ", shape_str(x.shape()));
    m[size_t(a < 0 ? a + nd : a)] = true;
  }
  return m;
}

Shape keep_shape(const Shape& s, const std::vector<bool>& m) {  // reduced axes become 1
  Shape k = s;
  for (size_t i = 0; i < s.size(); ++i)
    if (m[i]) k[i] = 1;
  return k;
}

Shape drop_shape(const Shape& s, const std::vector<bool>& m) {
  Shape k;
  for (size_t i = 0; i < s.size(); ++i)
    if (!m[i]) k.push_back(s[i]);
  return k;
}

}  // namespace

Tensor sum(const Tensor& x, const ReduceOptions& o) {
  std::vector<bool> m = axes_mask(x, o.axes, "sum");
  Tensor r = run_reduce(x, m, ReduceKind::sum);
  Shape out_shape = o.keepdim ? keep_shape(x.shape(), m) : drop_shape(x.shape(), m);
  Tensor out = r.as_strided(out_shape, contiguous_strides(out_shape), 0);
  return record(out, "sum", {x}, [from = x.shape(), m](const Tensor& g) {
    Tensor gk = reshape(g, keep_shape(from, m));
    return std::vector<Tensor>{contiguous(expand(gk, from))};
  });
}

Tensor mean(const Tensor& x, const ReduceOptions& o) {
  std::vector<bool> m = axes_mask(x, o.axes, "mean");
  int64_t count = 1;
  for (size_t i = 0; i < m.size(); ++i)
    if (m[i]) count *= x.shape()[i];
  KINEMA_CHECK(count > 0, "mean", "mean over an empty axis of ", shape_str(x.shape()));
  return scale(sum(x, o), 1.f / float(count));
}

Tensor amax(const Tensor& x, int axis, bool keepdim) {
  std::vector<bool> m = axes_mask(x, {axis}, "amax");
  Tensor r = run_reduce(x, m, ReduceKind::max);
  Shape out_shape = keepdim ? keep_shape(x.shape(), m) : drop_shape(x.shape(), m);
  Tensor out = r.as_strided(out_shape, contiguous_strides(out_shape), 0);
  return record(out, "amax", {x}, [x = x.detach(), m, r](const Tensor& g) {
    // The gradient is shared equally between tied maxima, as in PyTorch.
    Shape ks = keep_shape(x.shape(), m);
    Tensor xs = as_f32_contiguous(x);
    Tensor mx = contiguous(expand(reshape(cast(r, DType::f32), ks), x.shape()));
    Tensor mask = Tensor::empty(x.shape(), DType::f32);
    const float *px = xs.data<float>(), *pm = mx.data<float>();
    float* pk = mask.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) pk[i] = px[i] == pm[i] ? 1.f : 0.f;
    Tensor count = expand(reshape(run_reduce(mask, m, ReduceKind::sum), ks), x.shape());
    Tensor gx = div(mul(expand(reshape(g, ks), x.shape()), mask), count);
    return std::vector<Tensor>{cast(gx, x.dtype())};
  });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  KINEMA_CHECK(x.shape().size() >= shape.size(), "sum_to", "cannot sum ", shape_str(x.shape()), " to ",
        shape_str(shape));
  size_t lead = x.shape().size() - shape.size();
  std::vector<int> axes;
  for (size_t i = 0; i < x.shape().size(); ++i) {
    bool broadcast = i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1);
    KINEMA_CHECK(i < lead || shape[i - lead] == x.shape()[i] || shape[i - lead] == 1, "sum_to",
          "cannot sum ", shape_str(x.shape()), " to ", shape_str(shape));
    if (broadcast) axes.push_back(int(i));
  }
  if (axes.empty()) return reshape(x, shape);
  return reshape(sum(x, {axes, true}), shape);
}

namespace {

std::vector<OpCase> sum_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 600;
  for (DType t : {DType::f32, DType::bf16})
    for (Layout l : {Layout::contiguous, Layout::strided}) {
      cases.push_back(unary_case("sum[all]", test_input({7, 33}, t, seed++, l),
                                  [](const Tensor& x) { return sum(x); }, "lambda x: x.sum()", 231));
      cases.push_back(unary_case("sum[-1,keep]", test_input({3, 4, 65}, t, seed++, l),
                                  [](const Tensor& x) { return sum(x, {{-1}, true}); },
                                  "lambda x: x.sum(-1, keepdim=True)", 65));
      cases.push_back(unary_case("sum[0,1]", test_input({5, 6, 19}, t, seed++, l),
                                  [](const Tensor& x) { return sum(x, {{0, 1}, false}); },
                                  "lambda x: x.sum((0, 1))", 30));
      cases.push_back(unary_case("sum[1]", test_input({4, 9, 3}, t, seed++, l),
                                  [](const Tensor& x) { return sum(x, {{1}, false}); },
                                  "lambda x: x.sum(1)", 9));
    }
  return cases;
}

std::vector<OpCase> mean_cases() {
  std::vector<OpCase> cases;
  for (DType t : {DType::f32, DType::bf16})
    cases.push_back(unary_case("mean[0,2]", test_input({4, 3, 10}, t, 620, Layout::strided),
                                [](const Tensor& x) { return mean(x, {{0, 2}, true}); },
                                "lambda x: x.mean((0, 2), keepdim=True)", 40));
  return cases;
}

std::vector<OpCase> amax_cases() {
  std::vector<OpCase> cases;
  for (DType t : {DType::f32, DType::bf16})
    for (int axis : {-1, 0}) {
      OpCase c = unary_case("amax[" + std::to_string(axis) + "]",
                             test_input({6, 37}, t, 630 + uint64_t(axis + 1), Layout::strided),
                             [axis](const Tensor& x) { return amax(x, axis); },
                             "lambda x: x.amax(" + std::to_string(axis) + ")", 1);
      c.finite_differences = false;  // piecewise linear
      cases.push_back(std::move(c));
    }
  return cases;
}

std::vector<OpCase> sum_to_cases() {
  std::vector<OpCase> cases;
  cases.push_back(unary_case("sum_to[3,1]", test_input({2, 3, 5}, DType::f32, 640),
                              [](const Tensor& x) { return sum_to(x, {3, 1}); },
                              "lambda x: x.sum(0).sum(-1, keepdim=True)", 10));
  cases.push_back(unary_case("sum_to[5]", test_input({4, 3, 5}, DType::bf16, 641),
                              [](const Tensor& x) { return sum_to(x, {5}); },
                              "lambda x: x.sum((0, 1))", 12));
  return cases;
}

}  // namespace

extern const OpDef kOpSum{"sum", sum_cases};
extern const OpDef kOpMean{"mean", mean_cases};
extern const OpDef kOpAmax{"amax", amax_cases};
extern const OpDef kOpSumTo{"sum_to", sum_to_cases};

}  // namespace kinema
