// View ops: reshape, permute, transpose, slice, expand share storage with their input.
#include <numeric>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {
namespace {
int norm_axis(int axis, int nd, const char* op) {
  KINEMA_CHECK(axis >= -nd && axis < nd, op, "axis ", axis, " out of range for ", nd, " dims");
  return axis < 0 ? axis + nd : axis;
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = shape;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      KINEMA_CHECK(infer < 0, "reshape", "only one dim may be -1; got ", shape_str(shape));
      infer = int(i);
    } else {
      KINEMA_CHECK(s[i] >= 0, "reshape", "negative dim in ", shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    KINEMA_CHECK(known > 0 && x.numel() % known == 0, "reshape", "cannot infer -1 in ", shape_str(shape),
          " for ", x.numel(), " elements");
    s[size_t(infer)] = x.numel() / known;
  }
  KINEMA_CHECK(shape_numel(s) == x.numel(), "reshape", "cannot reshape ", shape_str(x.shape()), " (",
        x.numel(), " elements) to ", shape_str(s));
  if (s == x.shape()) return x;
  Tensor c = contiguous(x);
  Tensor out = c.as_strided(s, contiguous_strides(s), c.offset());
  return record(out, "reshape", {c}, [from = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{reshape(g, from)};
  });
}

Tensor permute(const Tensor& x, const std::vector<int>& axes) {
  int nd = x.ndim();
  KINEMA_CHECK(int(axes.size()) == nd, "permute", "needs ", nd, " axes for shape ", shape_str(x.shape()),
        "; got ", axes.size());
  KINEMA_CHECK(!is_quantized(x.dtype()), "permute", "quantized tensors cannot be permuted");
  Shape s(static_cast<size_t>(nd)), st(static_cast<size_t>(nd));
  std::vector<int> inverse(static_cast<size_t>(nd), -1);
  for (int i = 0; i < nd; ++i) {
    int a = norm_axis(axes[size_t(i)], nd, "permute");
    KINEMA_CHECK(inverse[size_t(a)] < 0, "permute", "axis ", a, " repeated");
    inverse[size_t(a)] = i;
    s[size_t(i)] = x.shape()[size_t(a)];
    st[size_t(i)] = x.strides()[size_t(a)];
  }
  Tensor out = x.as_strided(s, st, x.offset());
  return record(out, "permute", {x}, [inverse](const Tensor& g) {
    return std::vector<Tensor>{permute(g, inverse)};
  });
}

Tensor transpose(const Tensor& x, int axis0, int axis1) {
  int nd = x.ndim();
  std::vector<int> axes(static_cast<size_t>(nd));
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[size_t(norm_axis(axis0, nd, "transpose"))],
            axes[size_t(norm_axis(axis1, nd, "transpose"))]);
  return permute(x, axes);
}

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end) {
  int a = norm_axis(axis, x.ndim(), "slice");
  int64_t n = x.shape()[size_t(a)];
  KINEMA_CHECK(0 <= start && start <= end && end <= n, "slice", "range [", start, ", ", end,
        ") out of bounds for axis ", a, " of ", shape_str(x.shape()));
  KINEMA_CHECK(!is_quantized(x.dtype()) || a == 0, "slice", "quantized tensors slice on axis 0 only");
  Shape s = x.shape();
  s[size_t(a)] = end - start;
  Tensor out = x.as_strided(s, x.strides(), x.offset() + start * x.strides()[size_t(a)]);
  return record(out, "slice", {x}, [a, start, end, n, nd = x.ndim()](const Tensor& g) {
    std::vector<std::pair<int64_t, int64_t>> pads(size_t(nd), {0, 0});
    pads[size_t(a)] = {start, n - end};
    return std::vector<Tensor>{pad(g, pads)};
  });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  KINEMA_CHECK(shape.size() >= x.shape().size(), "expand", "cannot expand ", shape_str(x.shape()),
        " to fewer dims ", shape_str(shape));
  size_t lead = shape.size() - x.shape().size();
  Shape st(shape.size(), 0);
  for (size_t i = 0; i < x.shape().size(); ++i) {
    int64_t d = x.shape()[i];
    KINEMA_CHECK(d == shape[lead + i] || d == 1, "expand", "cannot expand ", shape_str(x.shape()), " to ",
          shape_str(shape));
    st[lead + i] = d == 1 && shape[lead + i] != 1 ? 0 : x.strides()[i];
  }
  if (shape == x.shape()) return x;
  Tensor out = x.as_strided(shape, st, x.offset());
  return record(out, "expand", {x}, [from = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, from)};
  });
}

namespace {

std::vector<OpCase> reshape_cases() {
  std::vector<OpCase> cases;
  for (Layout l : {Layout::contiguous, Layout::strided})
    for (DType t : {DType::f32, DType::bf16}) {
      cases.push_back(unary_case("reshape[6,-1]", test_input({3, 4, 5}, t, 400, l),
                                [](const Tensor& x) { return reshape(x, {6, -1}); },
                                "lambda x: x.reshape(6, -1)"));
      cases.push_back(unary_case("reshape[60]", test_input({3, 4, 5}, t, 401, l),
                                [](const Tensor& x) { return reshape(x, {60}); },
                                "lambda x: x.reshape(60)"));
    }
  return cases;
}

std::vector<OpCase> permute_cases() {
  std::vector<OpCase> cases;
  for (Layout l : {Layout::contiguous, Layout::strided}) {
    cases.push_back(unary_case("permute[2,0,1]", test_input({3, 4, 5}, DType::f32, 410, l),
                              [](const Tensor& x) { return contiguous(permute(x, {2, 0, 1})); },
                              "lambda x: x.permute(2, 0, 1)"));
    cases.push_back(unary_case("transpose[0,2]", test_input({2, 3, 4, 5}, DType::bf16, 411, l),
                              [](const Tensor& x) { return transpose(x, 0, 2); },
                              "lambda x: x.transpose(0, 2)"));
  }
  return cases;
}

std::vector<OpCase> slice_cases() {
  std::vector<OpCase> cases;
  for (Layout l : {Layout::contiguous, Layout::strided}) {
    cases.push_back(unary_case("slice[1,2:5]", test_input({3, 7, 4}, DType::f32, 420, l),
                              [](const Tensor& x) { return slice(x, 1, 2, 5); },
                              "lambda x: x[:, 2:5]"));
    cases.push_back(unary_case("slice[-1,0:1]", test_input({4, 6}, DType::bf16, 421, l),
                              [](const Tensor& x) { return slice(x, -1, 0, 1); },
                              "lambda x: x[..., 0:1]"));
  }
  return cases;
}

std::vector<OpCase> expand_cases() {
  std::vector<OpCase> cases;
  cases.push_back(unary_case("expand[2,3,4]", test_input({3, 1}, DType::f32, 430),
                            [](const Tensor& x) { return expand(x, {2, 3, 4}); },
                            "lambda x: x.expand(2, 3, 4)"));
  cases.push_back(unary_case("expand[5,4]", test_input({4}, DType::bf16, 431),
                            [](const Tensor& x) { return contiguous(expand(x, {5, 4})); },
                            "lambda x: x.expand(5, 4)"));
  return cases;
}

}  // namespace

extern const OpDef kOpReshape{"reshape", reshape_cases};
extern const OpDef kOpPermute{"permute", permute_cases};
extern const OpDef kOpSlice{"slice", slice_cases};
extern const OpDef kOpExpand{"expand", expand_cases};

}  // namespace kinema
