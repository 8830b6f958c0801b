// 3D rotary position embedding over a (t, h, w) token grid, as in Wan / Open-Sora.
// The D/2 frequency pairs are split into three groups (t, h, w) of dims = {Pt, Ph, Pw} pairs;
// Wan's split is Ph = Pw = (D/2)/3 and Pt = D/2 - 2*Ph. Pair i of group k rotates by
//   angle = position_k * theta^(-i / P_k)      (= theta^(-2i / (2 P_k)), RoFormer's form)
// where position_k is the token's t, h or w index (+ offset). Token n of the flattened grid
// sits at t = n / (H W), h = (n / W) % H, w = n % W.
#include "backend/cpu/exec.hpp"
#include "backend/cpu/kernels.hpp"
#include "backend/cpu/reduce_exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

#include <cmath>

namespace kinema {
namespace {

Tensor rope_angles(const Rope3dOptions& o, int64_t pairs) {
  std::vector<int64_t> dims = o.dims;
  if (dims.empty()) {
    int64_t hw = pairs / 3;
    dims = {pairs - 2 * hw, hw, hw};
  }
  KINEMA_CHECK(dims.size() == 3 && dims[0] + dims[1] + dims[2] == pairs, "rope3d",
        "dims must be 3 pair counts summing to D/2 = ", pairs);
  int64_t N = o.t * o.h * o.w;
  Tensor a = Tensor::empty({N, pairs});
  float* p = a.data<float>();
  for (int64_t n = 0; n < N; ++n) {
    int64_t pos[3] = {n / (o.h * o.w) + o.t_offset, (n / o.w) % o.h + o.h_offset, n % o.w + o.w_offset};
    int64_t i = 0;
    for (int k = 0; k < 3; ++k)
      for (int64_t j = 0; j < dims[size_t(k)]; ++j, ++i)
        p[n * pairs + i] = float(double(pos[k]) * std::pow(double(o.theta), -double(j) / double(dims[size_t(k)])));
  }
  return a;
}

Tensor rotate(const Tensor& x, const Tensor& angles, float sign) {
  Tensor xf = as_f32_contiguous(x);
  Tensor y = Tensor::empty(x.shape());
  int64_t B = x.size(0), N = x.size(1), H = x.size(2), D = x.size(3);
  auto k = current_context().reference_kernels() ? rope_f32_ref : rope_f32;
  parallel_for(B * N, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {  // one token row at a time keeps the kernel simple
      int64_t n = r % N;
      k(xf.data<float>() + r * H * D, y.data<float>() + r * H * D, angles.data<float>() + n * (D / 2),
        1, 1, H, D, sign);
    }
  });
  return cast(y, x.dtype());
}

}  // namespace

Tensor rope3d(const Tensor& x, const Rope3dOptions& o) {
  KINEMA_CHECK(x.ndim() == 4, "rope3d", "x must be [B, T*H*W, heads, D]; got ", shape_str(x.shape()));
  KINEMA_CHECK(x.size(3) % 2 == 0, "rope3d", "head dim must be even; got ", x.size(3));
  KINEMA_CHECK(o.t > 0 && o.h > 0 && o.w > 0 && o.t * o.h * o.w == x.size(1), "rope3d", "grid ", o.t,
        "x", o.h, "x", o.w, " does not match ", x.size(1), " tokens");
  Tensor angles = rope_angles(o, x.size(3) / 2);
  Tensor out = rotate(x.detach(), angles, 1.f);
  return record(out, "rope3d", {x}, [angles](const Tensor& g) {
    return std::vector<Tensor>{rotate(g, angles, -1.f)};
  });
}

namespace {
std::vector<OpCase> rope_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 1300;
  for (DType t : {DType::f32, DType::bf16})
    for (int64_t D : {12, 64}) {
      Rope3dOptions o;
      o.t = 2, o.h = 3, o.w = 4;
      o.t_offset = D == 64 ? 1 : 0;
      Tensor x = test_input({2, 24, 3, D}, t, seed++);
      OpCase c;
      c.repro = "rope3d(x=" + describe(x) + ", grid=2x3x4)";
      c.inputs = {x};
      c.run = [o](const std::vector<Tensor>& in) { return rope3d(in[0], o); };
      c.torch = "lambda x: rope3d(x, (2, 3, 4), (" + std::to_string(o.t_offset) + ", 0, 0), 10000.0)";
      cases.push_back(std::move(c));
    }
  return cases;
}
}  // namespace

extern const OpDef kOpRope3d{"rope3d", rope_cases};

}  // namespace kinema
