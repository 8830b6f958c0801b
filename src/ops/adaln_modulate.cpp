// adaLN modulation as DiT and Wan apply it: LN(x) * (1 + scale) + shift, LN without affine
// parameters. One pass over x each way instead of five (norm, +1, mul, add and their vjps): the
// per-batch (or per-token) modulation is the norm kernel's weight and bias for that row.
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

// Runs k(part, r, m) over x's rows in parallel, part = d for the rows [r, r + part.rows), which
// all take modulation row m (1 + scale and shift as the norm kernel's weight and bias).
template <class K>
void modulated_rows(const NormDesc& d, int64_t per, K k) {
  parallel_for(d.rows, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e;) {
      const int64_t end = std::min(e, (r / per + 1) * per);
      NormDesc part = d;
      part.rows = end - r;
      k(part, r, r / per);
      r = end;
    }
  });
}

}  // namespace

Tensor adaln_modulate(const Tensor& x, const Tensor& shift, const Tensor& scale, float eps) {
  KINEMA_CHECK(x.ndim() == 3, "adaln_modulate", "x must be [B, N, D]; got ", shape_str(x.shape()));
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2);
  for (const Tensor* m : {&shift, &scale})
    KINEMA_CHECK(m->ndim() == 3 && m->size(0) == B && (m->size(1) == 1 || m->size(1) == N) && m->size(2) == D &&
                     m->size(1) == scale.size(1),
                 "adaln_modulate", "shift and scale must both be [B, 1, D] or [B, N, D] for x ", shape_str(x.shape()),
                 "; got ", shape_str(shift.shape()), " and ", shape_str(scale.shape()));
  const int64_t per = scale.size(1) == 1 ? N : 1;  // x rows per modulation row
  const bool ref = current_context().reference_kernels();
  Tensor xf = as_f32_contiguous(x.detach()), sf = as_f32_contiguous(shift.detach());
  Tensor w = Tensor::empty(scale.shape(), DType::f32);  // 1 + scale
  {
    Tensor cf = as_f32_contiguous(scale.detach());
    const float* c = cf.data<float>();
    float* wp = w.data<float>();
    for (int64_t i = 0, n = w.numel(); i < n; ++i) wp[i] = 1.f + c[i];
  }
  NormDesc d;
  d.len = D, d.rows = B * N, d.eps = eps;
  Tensor y = Tensor::empty(x.shape(), DType::f32);
  Tensor mean = Tensor::empty({d.rows}), rstd = Tensor::empty({d.rows});
  auto fwd = ref ? norm_forward_f32_ref : norm_forward_f32;
  modulated_rows(d, per, [&](const NormDesc& part, int64_t r, int64_t m) {
    fwd(part, xf.data<float>() + r * D, w.data<float>() + m * D, sf.data<float>() + m * D,
        y.data<float>() + r * D, mean.data<float>() + r, rstd.data<float>() + r);
  });
  return record(cast(y, x.dtype()), "adaln_modulate", {x, shift, scale},
                [d, per, xf, w, mean, rstd, xt = x.dtype(), st = shift.dtype(), ct = scale.dtype(),
                 ms = scale.shape()](const Tensor& g) {
                  const bool ref = current_context().reference_kernels();
                  const int64_t D = d.len;
                  Tensor gf = as_f32_contiguous(g);
                  Tensor dx = Tensor::empty(xf.shape(), DType::f32), xhat = Tensor::empty(xf.shape(), DType::f32);
                  auto bwd = ref ? norm_backward_f32_ref : norm_backward_f32;
                  modulated_rows(d, per, [&](const NormDesc& part, int64_t r, int64_t m) {
                    bwd(part, xf.data<float>() + r * D, w.data<float>() + m * D, gf.data<float>() + r * D,
                        mean.data<float>() + r, rstd.data<float>() + r, dx.data<float>() + r * D,
                        xhat.data<float>() + r * D);
                  });
                  // d shift = g and d scale = g * xhat, summed over the rows sharing a modulation row
                  Tensor gs = mul(gf, xhat);
                  Tensor dshift = per == 1 ? gf : sum(gf, {{1}, true});
                  Tensor dscale = per == 1 ? gs : sum(gs, {{1}, true});
                  return std::vector<Tensor>{cast(dx, xt), cast(reshape(dshift, ms), st), cast(reshape(dscale, ms), ct)};
                });
}

namespace {

std::vector<OpCase> adaln_modulate_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 1900;
  for (DType t : {DType::f32, DType::bf16})
    for (int64_t mn : {int64_t(1), int64_t(5)})  // per batch (Wan2.1) or per token (Wan2.2)
      for (Layout l : {Layout::contiguous, Layout::strided}) {
        Tensor x = test_input({3, 5, 48}, t, seed++, l, -2.f, 3.f);
        Tensor shift = test_input({3, mn, 48}, t, seed++, l);
        Tensor scale = test_input({3, mn, 48}, t, seed++, Layout::contiguous, -0.5f, 0.5f);
        OpCase c;
        c.repro = "adaln_modulate(x=" + describe(x) + ", shift=" + describe(shift) + ", scale=" + describe(scale) + ")";
        c.reduction = 48;
        c.inputs = {x, shift, scale};
        c.run = [](const std::vector<Tensor>& in) { return adaln_modulate(in[0], in[1], in[2], 1e-6f); };
        c.torch = "lambda x, shift, scale: F.layer_norm(x, (48,), eps=1e-6) * (1 + scale) + shift";
        cases.push_back(std::move(c));
      }
  return cases;
}

}  // namespace

extern const OpDef kOpAdaLnModulate{"adaln_modulate", adaln_modulate_cases};

}  // namespace kinema
