// Nearest-neighbour upsampling as a composition of views: each axis of size D is read as
// [D, 1], broadcast to [D, f] and merged to D*f. The vjp (sum over the f copies) comes from
// expand's vjp; no kernel of its own until a benchmark asks for one.
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {

Tensor upsample_nearest(const Tensor& x, const std::vector<int64_t>& factors) {
  int nd = x.ndim(), k = int(factors.size());
  KINEMA_CHECK(k >= 1 && k <= nd, "upsample_nearest", factors.size(), " factors for input ",
        shape_str(x.shape()));
  Tensor y = x;
  for (int i = 0; i < k; ++i) {
    int64_t f = factors[size_t(i)];
    KINEMA_CHECK(f >= 1, "upsample_nearest", "factors must be >= 1; got ", f);
    if (f == 1) continue;
    int axis = nd - k + i;
    Shape s = y.shape(), e = y.shape(), m = y.shape();
    s.insert(s.begin() + axis + 1, 1);
    e.insert(e.begin() + axis + 1, f);
    m[size_t(axis)] *= f;
    y = reshape(expand(reshape(y, s), e), m);
  }
  return y;
}

namespace {
std::vector<OpCase> upsample_cases() {
  std::vector<OpCase> cases;
  for (DType t : {DType::f32, DType::bf16}) {
    Tensor x = test_input({1, 2, 3, 4, 5}, t, 1200, Layout::strided);
    OpCase c;
    c.repro = "upsample_nearest(x=" + describe(x) + ", [1,2,2])";
    c.inputs = {x};
    c.run = [](const std::vector<Tensor>& in) { return upsample_nearest(in[0], {1, 2, 2}); };
    c.torch = "lambda x: F.interpolate(x, scale_factor=(1, 2, 2), mode='nearest')";
    cases.push_back(std::move(c));
    Tensor x2 = test_input({2, 3, 4, 5}, t, 1201);
    OpCase c2;
    c2.repro = "upsample_nearest(x=" + describe(x2) + ", [3,2])";
    c2.inputs = {x2};
    c2.run = [](const std::vector<Tensor>& in) { return upsample_nearest(in[0], {3, 2}); };
    c2.torch = "lambda x: F.interpolate(x, scale_factor=(3, 2), mode='nearest')";
    cases.push_back(std::move(c2));
  }
  return cases;
}
}  // namespace

extern const OpDef kOpUpsampleNearest{"upsample_nearest", upsample_cases};

}  // namespace kinema
