// layer_norm, rms_norm and group_norm share one fused kernel pair (backend/cpu/norm_kernels):
// the forward keeps per-row mean and rstd, the backward recomputes xhat from them.
#include "backend/cpu/exec.hpp"
#include "backend/cpu/kernels.hpp"
#include "backend/cpu/reduce_exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {
namespace {

const float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// x viewed as rows of d.len; returns y (x's dtype). The vjp gives dx, dweight, dbias.
Tensor norm_op(const char* name, const Tensor& x, const Tensor& weight, const Tensor& bias,
               NormDesc d, const std::vector<int>& param_axes_sum, const Shape& param_view) {
  bool ref = current_context().reference_kernels();
  Tensor xf = as_f32_contiguous(x.detach());
  Tensor wf = weight.defined() ? as_f32_contiguous(weight.detach()) : Tensor();
  Tensor bf = bias.defined() ? as_f32_contiguous(bias.detach()) : Tensor();
  Tensor y = Tensor::empty(x.shape(), DType::f32);
  Tensor mean = Tensor::empty({d.rows}), rstd = Tensor::empty({d.rows});
  auto fwd = ref ? norm_forward_f32_ref : norm_forward_f32;
  parallel_for(d.rows, 1, [&](int64_t b, int64_t e) {
    NormDesc part = d;
    part.rows = e - b;
    // group index must stay global: offset rows so row % groups is unchanged
    const float* xp = xf.data<float>() + b * d.len;
    float* yp = y.data<float>() + b * d.len;
    if (d.spatial == 0 || b % d.groups == 0) {
      fwd(part, xp, ptr_or_null(wf), ptr_or_null(bf), yp, mean.data<float>() + b, rstd.data<float>() + b);
    } else {
      for (int64_t r = b; r < e; ++r) {  // rare: thread split mid-group; do rows one at a time
        NormDesc one = d;
        one.rows = 1;
        int64_t g = r % d.groups, cpg = d.len / d.spatial;
        fwd(one, xf.data<float>() + r * d.len, wf.defined() ? wf.data<float>() + g * cpg : nullptr,
            bf.defined() ? bf.data<float>() + g * cpg : nullptr, y.data<float>() + r * d.len,
            mean.data<float>() + r, rstd.data<float>() + r);
      }
    }
  });
  Tensor out = cast(y, x.dtype());
  std::vector<Tensor> inputs{x, weight, bias};
  return record(out, name, inputs,
                [d, xf, wf, mean, rstd, param_axes_sum, param_view, xs = x.shape(),
                 xt = x.dtype(), wt = weight.defined(), bt = bias.defined(),
                 wdt = weight.defined() ? weight.dtype() : DType::f32,
                 bdt = bias.defined() ? bias.dtype() : DType::f32](const Tensor& g) {
                  bool ref = current_context().reference_kernels();
                  Tensor gf = as_f32_contiguous(g);
                  Tensor dx = Tensor::empty(xs, DType::f32);
                  Tensor xhat = wt ? Tensor::empty(xs, DType::f32) : Tensor();
                  auto bwd = ref ? norm_backward_f32_ref : norm_backward_f32;
                  // one call per row keeps the group index right whatever the thread split
                  parallel_for(d.rows, 1, [&](int64_t b, int64_t e) {
                    for (int64_t r = b; r < e; ++r) {
                      NormDesc one = d;
                      one.rows = 1;
                      int64_t off = d.spatial ? (r % d.groups) * (d.len / d.spatial) : 0;
                      bwd(one, xf.data<float>() + r * d.len,
                          wt ? wf.data<float>() + off : nullptr, gf.data<float>() + r * d.len,
                          mean.data<float>() + r, rstd.data<float>() + r,
                          dx.data<float>() + r * d.len,
                          wt ? xhat.data<float>() + r * d.len : nullptr);
                    }
                  });
                  Tensor gw, gb;
                  if (wt) gw = cast(reshape(sum(mul(reshape(gf, param_view), reshape(xhat, param_view)),
                                                {param_axes_sum, false}), {-1}), wdt);
                  if (bt) gb = cast(reshape(sum(reshape(gf, param_view), {param_axes_sum, false}), {-1}), bdt);
                  return std::vector<Tensor>{cast(dx, xt), gw, gb};
                });
}

void check_param(const Tensor& p, int64_t n, const char* op, const char* what) {
  if (!p.defined()) return;
  KINEMA_CHECK(p.ndim() == 1 && p.size(0) == n, op, what, " must be [", n, "]; got ", shape_str(p.shape()));
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  KINEMA_CHECK(x.ndim() >= 1, "layer_norm", "needs at least one dim");
  int64_t D = x.size(-1);
  check_param(weight, D, "layer_norm", "weight");
  check_param(bias, D, "layer_norm", "bias");
  NormDesc d;
  d.len = D;
  d.rows = D ? x.numel() / D : 0;
  d.eps = eps;
  return norm_op("layer_norm", x, weight, bias, d, {0}, {d.rows, D});
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps) {
  KINEMA_CHECK(x.ndim() >= 1, "rms_norm", "needs at least one dim");
  int64_t D = x.size(-1);
  check_param(weight, D, "rms_norm", "weight");
  NormDesc d;
  d.len = D;
  d.rows = D ? x.numel() / D : 0;
  d.eps = eps;
  d.center = false;
  return norm_op("rms_norm", x, weight, Tensor(), d, {0}, {d.rows, D});
}

Tensor group_norm(const Tensor& x, int groups, const Tensor& weight, const Tensor& bias, float eps) {
  KINEMA_CHECK(x.ndim() >= 2, "group_norm", "needs [N, C, ...]; got ", shape_str(x.shape()));
  int64_t N = x.size(0), C = x.size(1);
  KINEMA_CHECK(groups > 0 && C % groups == 0, "group_norm", C, " channels do not split into ", groups,
        " groups");
  check_param(weight, C, "group_norm", "weight");
  check_param(bias, C, "group_norm", "bias");
  int64_t S = C ? x.numel() / (N * C) : 0;
  NormDesc d;
  d.rows = N * groups;
  d.len = C / groups * S;
  d.eps = eps;
  d.groups = groups;
  d.spatial = S;
  return norm_op("group_norm", x, weight, bias, d, {0, 2}, {N, C, S});
}

namespace {

std::vector<OpCase> norm_cases(const char* name) {
  std::vector<OpCase> cases;
  uint64_t seed = 900;
  std::string n = name;
  for (DType t : {DType::f32, DType::bf16})
    for (bool affine : {false, true})
      for (Layout l : {Layout::contiguous, Layout::strided}) {
        Shape xs = n == "group_norm" ? Shape{2, 6, 5, 7} : Shape{3, 5, 48};
        int64_t P = n == "group_norm" ? 6 : 48;
        Tensor x = test_input(xs, t, seed++, l, -2.f, 3.f);
        Tensor w = test_input({P}, t, seed++, Layout::contiguous, 0.5f, 1.5f);
        Tensor b = test_input({P}, t, seed++);
        OpCase c;
        c.repro = n + "(x=" + describe(x) + (affine ? ", affine)" : ")");
        c.reduction = double(n == "group_norm" ? 70 : 48);
        if (n == "layer_norm") {
          c.inputs = affine ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x};
          c.run = [](const std::vector<Tensor>& in) {
            return layer_norm(in[0], in.size() > 1 ? in[1] : Tensor(), in.size() > 2 ? in[2] : Tensor());
          };
          c.torch = affine ? "lambda x, w, b: F.layer_norm(x, (48,), w, b, 1e-5)"
                           : "lambda x: F.layer_norm(x, (48,), eps=1e-5)";
        } else if (n == "rms_norm") {
          c.inputs = affine ? std::vector<Tensor>{x, w} : std::vector<Tensor>{x};
          c.run = [](const std::vector<Tensor>& in) {
            return rms_norm(in[0], in.size() > 1 ? in[1] : Tensor());
          };
          c.torch = affine ? "lambda x, w: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w"
                           : "lambda x: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)";
        } else {
          c.inputs = affine ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x};
          c.run = [](const std::vector<Tensor>& in) {
            return group_norm(in[0], 3, in.size() > 1 ? in[1] : Tensor(), in.size() > 2 ? in[2] : Tensor());
          };
          c.torch = affine ? "lambda x, w, b: F.group_norm(x, 3, w, b, 1e-5)"
                           : "lambda x: F.group_norm(x, 3, eps=1e-5)";
        }
        cases.push_back(std::move(c));
      }
  return cases;
}
std::vector<OpCase> layer_norm_cases() { return norm_cases("layer_norm"); }
std::vector<OpCase> rms_norm_cases() { return norm_cases("rms_norm"); }
std::vector<OpCase> group_norm_cases() { return norm_cases("group_norm"); }

}  // namespace

extern const OpDef kOpLayerNorm{"layer_norm", layer_norm_cases};
extern const OpDef kOpRmsNorm{"rms_norm", rms_norm_cases};
extern const OpDef kOpGroupNorm{"group_norm", group_norm_cases};

}  // namespace kinema
