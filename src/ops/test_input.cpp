#include <cstring>

#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {

namespace {
// splitmix64: small, portable, deterministic.
uint64_t next(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

Tensor test_input(const Shape& shape, DType dtype, uint64_t seed, Layout layout, float lo,
                  float hi) {
  uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
  auto fill = [&](const Shape& sh) {
    std::vector<float> v(size_t(shape_numel(sh)));
    for (float& x : v) x = lo + (hi - lo) * float(next(s) >> 40) / float(1 << 24);
    return Tensor::from_vector(v, sh, dtype);
  };
  if (layout == Layout::contiguous || shape.empty()) return fill(shape);
  if (shape.size() >= 2) {
    // Allocate with the last two axes swapped, then transpose back: same values, strided.
    Shape swapped = shape;
    std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
    return transpose(fill(swapped), -1, -2);
  }
  // 1-D: every other element of a buffer twice as long.
  Tensor big = fill({shape[0] * 2});
  return big.as_strided(shape, {2}, big.offset());
}

std::string describe(const Tensor& t) {
  std::string s = shape_str(t.shape()) + ":" + std::string(dtype_name(t.dtype()));
  if (!t.is_contiguous()) s += ":strided";
  return s;
}

OpCase unary_case(const std::string& name, const Tensor& x, std::function<Tensor(const Tensor&)> f,
                  std::string torch, double reduction) {
  OpCase c;
  c.repro = name + "(x=" + describe(x) + ")";
  c.inputs = {x};
  c.run = [f = std::move(f)](const std::vector<Tensor>& in) { return f(in[0]); };
  c.torch = std::move(torch);
  c.reduction = reduction;
  return c;
}

}  // namespace kinema
