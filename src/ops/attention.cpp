// Scaled dot-product attention, flash-style. The op packs q/k/v once into padded f32 layouts
// (backend/cpu/attention_kernels.hpp) and runs the tiled kernels; the vjp reuses the packed
// tensors and the saved log-sum-exp. The mask is a constant (no gradient).
#include <cmath>

#include "backend/cpu/attention_kernels.hpp"
#include "backend/cpu/dnnl_plans.hpp"
#include "backend/cpu/exec.hpp"
#include "backend/cpu/kernels.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {
namespace {

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// f32, contiguous, last axis padded with zeros to `last`, axis -2 padded to `rows`.
// One pass when nothing needs padding (the DiT's q and v: d a multiple of the tile).
Tensor packed(const Tensor& x, int64_t rows, int64_t last, float mul = 1.f) {
  Tensor f = cast(x, DType::f32);
  if (mul != 1.f) f = scale(f, mul);
  if (rows == x.size(-2) && last == x.size(-1)) return contiguous(f);
  std::vector<std::pair<int64_t, int64_t>> pads(size_t(x.ndim()), {0, 0});
  pads[size_t(x.ndim() - 2)].second = rows - x.size(-2);
  pads[size_t(x.ndim() - 1)].second = last - x.size(-1);
  return contiguous(pad(f, pads));
}

struct Packed {
  AttnDesc desc;
  Tensor qs, k, kt, v, vt, mask;
};

// k and vt are read by the backward only; `for_backward` false leaves them out.
Packed pack(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
            const AttentionOptions& o, bool for_backward) {
  NoGradGuard ng;
  Packed p;
  AttnDesc& a = p.desc;
  a.batch = q.size(0), a.heads = q.size(1), a.nq = q.size(2), a.nk = k.size(2), a.d = q.size(3);
  a.dp = round_up(a.d, kTileAlign), a.nkp = attention_key_stride(a.nk);
  a.scale = o.scale > 0 ? o.scale : 1.f / std::sqrt(float(a.d));
  a.causal = o.causal;
  p.qs = packed(q, a.nq, a.dp, a.scale);
  p.v = packed(v, a.nk, a.dp);
  p.kt = contiguous(transpose(packed(k, a.nkp, a.d), -1, -2));  // [B, H, D, Nkp]
  if (for_backward) {
    p.k = packed(k, a.nk, a.dp);
    p.vt = contiguous(transpose(packed(v, a.nkp, a.d), -1, -2));
  }
  if (mask.defined()) {
    Shape full{a.batch, a.heads, a.nq, a.nk};
    broadcast_shapes(mask.shape(), full, "attention");
    p.mask = cast(mask, DType::f32);
    Shape st = broadcast_strides(p.mask, full);
    KINEMA_CHECK(st.size() == 4, "attention", "mask ", shape_str(mask.shape()), " must broadcast to ",
          shape_str(full));
    a.mask = p.mask.data<float>();
    for (int i = 0; i < 4; ++i) a.mask_strides[i] = st[size_t(i)];
  }
  return p;
}

Tensor unpack(const Tensor& padded, int64_t d, DType dtype) {
  return cast(contiguous(slice(padded, -1, 0, d)), dtype);
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                 const AttentionOptions& o) {
  KINEMA_CHECK(q.ndim() == 4 && k.ndim() == 4 && v.ndim() == 4, "attention",
        "q, k, v must be [B, H, N, D]; got ", shape_str(q.shape()), ", ", shape_str(k.shape()),
        ", ", shape_str(v.shape()));
  KINEMA_CHECK(k.shape() == v.shape(), "attention", "k ", shape_str(k.shape()), " and v ",
        shape_str(v.shape()), " differ");
  KINEMA_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3), "attention",
        "q ", shape_str(q.shape()), " does not match k ", shape_str(k.shape()));
  KINEMA_CHECK(!o.causal || q.size(2) <= k.size(2), "attention", "causal needs Nq <= Nk");
  const bool for_backward =
      grad_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  Packed p = pack(q.detach(), k.detach(), v.detach(), mask, o, for_backward);
  const AttnDesc& a = p.desc;
  bool ref = current_context().reference_kernels();
  Tensor out = Tensor::empty({a.batch, a.heads, a.nq, a.dp});
  Tensor lse = Tensor::empty({a.batch, a.heads, a.nq});
  // bf16 inputs on a CPU with bf16 dot products: bf16 GEMMs (FlashAttention's own precision)
  const bool bf16 = (o.bf16_products || (q.dtype() == DType::bf16 && k.dtype() == DType::bf16 &&
                                          v.dtype() == DType::bf16)) &&
                    cpu_has_bf16_dot();
  auto forward = ref ? attention_forward_f32_ref : bf16 ? attention_forward_bf16 : attention_forward_f32;
  forward(a, p.qs.data<float>(), p.kt.data<float>(), p.v.data<float>(), out.data<float>(), lse.data<float>());
  Tensor y = unpack(out, a.d, q.dtype());
  return record(y, "attention", {q, k, v}, [p, out, lse, bf16, qt = q.dtype(), kt = k.dtype(),
                                            vt = v.dtype()](const Tensor& g) {
    const AttnDesc& a = p.desc;
    Tensor dO = packed(g, a.nq, a.dp);
    Tensor dq = Tensor::empty(p.qs.shape()), dk = Tensor::empty(p.k.shape()),
           dv = Tensor::empty(p.v.shape());
    const bool ref = current_context().reference_kernels();
    auto backward = ref ? attention_backward_f32_ref : bf16 ? attention_backward_bf16 : attention_backward_f32;
    backward(
        a, p.qs.data<float>(), p.k.data<float>(), p.kt.data<float>(), p.vt.data<float>(),
        out.data<float>(), dO.data<float>(), lse.data<float>(), dq.data<float>(),
        dk.data<float>(), dv.data<float>());
    return std::vector<Tensor>{unpack(dq, a.d, qt), unpack(dk, a.d, kt), unpack(dv, a.d, vt)};
  });
}

namespace {

std::vector<OpCase> attention_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 1400;
  struct P {
    int64_t B, H, Nq, Nk, D;
    bool causal, masked;
  };
  const P ps[] = {{1, 2, 37, 37, 16, false, false}, {2, 1, 70, 150, 64, false, false},
                  {1, 2, 130, 130, 24, true, false}, {1, 1, 33, 200, 64, false, true},
                  {1, 1, 128, 128, 128, false, false},
                  {1, 1, 40, 256, 32, false, false}};  // Nk = 256: kt's rows get the stride pad
  for (const P& s : ps)
    for (DType t : {DType::f32, DType::bf16}) {
      Tensor q = test_input({s.B, s.H, s.Nq, s.D}, t, seed++, Layout::strided, -2.f, 2.f);
      Tensor k = test_input({s.B, s.H, s.Nk, s.D}, t, seed++, Layout::contiguous, -2.f, 2.f);
      Tensor v = test_input({s.B, s.H, s.Nk, s.D}, t, seed++);
      Tensor m = s.masked ? test_input({1, 1, s.Nq, s.Nk}, DType::f32, seed++, Layout::contiguous, -3.f, 0.f)
                          : Tensor();
      AttentionOptions o;
      o.causal = s.causal;
      OpCase c;
      c.repro = "attention(q=" + describe(q) + ", k=" + describe(k) + (s.causal ? ", causal" : "") +
                (s.masked ? ", mask" : "") + ")";
      c.inputs = {q, k, v};
      if (s.masked) c.inputs.push_back(m);
      c.differentiable = {true, true, true};
      if (s.masked) c.differentiable.push_back(false);
      c.run = [o](const std::vector<Tensor>& in) {
        return attention(in[0], in[1], in[2], in.size() > 3 ? in[3] : Tensor(), o);
      };
      if (s.masked) c.torch = "lambda q, k, v, m: sdpa(q, k, v, m)";
      else if (s.causal) c.torch = "lambda q, k, v: sdpa(q, k, v, causal=True)";
      else c.torch = "lambda q, k, v: sdpa(q, k, v)";
      c.reduction = double(std::max(s.Nk, s.D));
      cases.push_back(std::move(c));
    }
  return cases;
}

}  // namespace

extern const OpDef kOpAttention{"attention", attention_cases};

}  // namespace kinema
