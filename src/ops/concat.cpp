// concat and pad: copies into a new tensor; their vjps slice the cotangent back apart.
#include "backend/cpu/exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  KINEMA_CHECK(!xs.empty(), "concat", "needs at least one tensor");
  int nd = xs[0].ndim();
  KINEMA_CHECK(axis >= -nd && axis < nd, "concat", "axis ", axis, " out of range for ", nd, " dims");
  int a = axis < 0 ? axis + nd : axis;
  Shape s = xs[0].shape();
  DType dt = xs[0].dtype();
  s[size_t(a)] = 0;
  for (const Tensor& x : xs) {
    Shape want = xs[0].shape(), got = x.shape();
    KINEMA_CHECK(int(got.size()) == nd, "concat", "rank mismatch: ", shape_str(xs[0].shape()), " and ",
          shape_str(got));
    want[size_t(a)] = got[size_t(a)];
    KINEMA_CHECK(want == got, "concat", "shapes ", shape_str(xs[0].shape()), " and ", shape_str(got),
          " differ outside axis ", a);
    dt = promote(dt, x.dtype());
    s[size_t(a)] += got[size_t(a)];
  }
  Tensor out = Tensor::empty(s, dt);
  std::vector<int64_t> starts;
  int64_t at = 0;
  {
    NoGradGuard ng;
    for (const Tensor& x : xs) {
      starts.push_back(at);
      copy_into(x, slice(out, a, at, at + x.shape()[size_t(a)]));
      at += x.shape()[size_t(a)];
    }
  }
  return record(out, "concat", xs, [a, starts, xs](const Tensor& g) {
    std::vector<Tensor> cots;
    for (size_t i = 0; i < xs.size(); ++i)
      cots.push_back(cast(slice(g, a, starts[i], starts[i] + xs[i].shape()[size_t(a)]),
                          xs[i].dtype()));
    return cots;
  });
}

Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads, float value) {
  KINEMA_CHECK(int(pads.size()) == x.ndim(), "pad", "needs one (before, after) pair per axis of ",
        shape_str(x.shape()), "; got ", pads.size());
  Shape s = x.shape();
  for (size_t i = 0; i < s.size(); ++i) {
    KINEMA_CHECK(pads[i].first >= 0 && pads[i].second >= 0, "pad", "negative padding on axis ", i);
    s[i] += pads[i].first + pads[i].second;
  }
  Tensor out = Tensor::full(s, value, x.dtype());
  Tensor inner = out;
  for (size_t i = 0; i < s.size(); ++i)
    inner = inner.as_strided(
        [&] { Shape t = inner.shape(); t[i] = x.shape()[i]; return t; }(), inner.strides(),
        inner.offset() + pads[i].first * inner.strides()[i]);
  copy_into(x, inner);
  return record(out, "pad", {x}, [pads, from = x.shape()](const Tensor& g) {
    Tensor r = g;
    for (size_t i = 0; i < from.size(); ++i)
      r = slice(r, int(i), pads[i].first, pads[i].first + from[i]);
    return std::vector<Tensor>{r};
  });
}

namespace {

std::vector<OpCase> concat_cases() {
  std::vector<OpCase> cases;
  for (int axis : {0, 1, -1})
    for (DType t : {DType::f32, DType::bf16}) {
      Tensor a = test_input({2, 3, 4}, t, 500, Layout::strided);
      Shape sb = {2, 3, 4};
      sb[size_t(axis < 0 ? 2 : axis)] = 5;
      Tensor b = test_input(sb, t, 501);
      OpCase c;
      c.repro = "concat(a=" + describe(a) + ", b=" + describe(b) + ", axis=" + std::to_string(axis) + ")";
      c.inputs = {a, b};
      c.run = [axis](const std::vector<Tensor>& in) { return concat({in[0], in[1]}, axis); };
      c.torch = "lambda a, b: torch.cat([a, b], " + std::to_string(axis) + ")";
      cases.push_back(std::move(c));
    }
  return cases;
}

std::vector<OpCase> pad_cases() {
  std::vector<OpCase> cases;
  for (Layout l : {Layout::contiguous, Layout::strided})
    for (DType t : {DType::f32, DType::bf16}) {
      Tensor x = test_input({2, 3, 4}, t, 510, l);
      OpCase c;
      c.repro = "pad(x=" + describe(x) + ", [(0,1),(2,0),(1,3)], 0.5)";
      c.inputs = {x};
      c.run = [](const std::vector<Tensor>& in) { return pad(in[0], {{0, 1}, {2, 0}, {1, 3}}, 0.5f); };
      c.torch = "lambda x: torch.nn.functional.pad(x, (1, 3, 2, 0, 0, 1), value=0.5)";
      cases.push_back(std::move(c));
    }
  return cases;
}

}  // namespace

extern const OpDef kOpConcat{"concat", concat_cases};
extern const OpDef kOpPad{"pad", pad_cases};

}  // namespace kinema
