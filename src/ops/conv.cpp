// conv2d and conv3d through oneDNN (forward, backward data, backward weights), with causal
// time padding for video VAEs: the first frame only sees itself and padding, never the future.
#include "backend/cpu/dnnl_plans.hpp"
#include "backend/cpu/exec.hpp"
#include "backend/cpu/kernels.hpp"
#include "backend/cpu/reduce_exec.hpp"
#include "core/context_impl.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/conv_passes.hpp"
#include "ops/registry.hpp"

namespace kinema {

ConvDesc describe_conv(const char* op, int sp, const Tensor& x, const Tensor& w, const Tensor& b,
                       const ConvOptions& o) {
  KINEMA_CHECK(x.ndim() == sp + 2, op, "input must be [N, C, ", sp == 3 ? "T, " : "", "H, W]; got ",
        shape_str(x.shape()));
  KINEMA_CHECK(w.ndim() == sp + 2, op, "weight must be [O, C/groups, ", sp == 3 ? "kT, " : "",
        "kH, kW]; got ", shape_str(w.shape()));
  ConvDesc d;
  d.spatial = sp;
  d.n = x.size(0);
  d.c = x.size(1);
  d.o = w.size(0);
  KINEMA_CHECK(w.size(1) > 0 && d.c % w.size(1) == 0, op, "weight ", shape_str(w.shape()),
        " does not match ", d.c, " input channels");
  d.groups = d.c / w.size(1);
  KINEMA_CHECK(d.o % d.groups == 0, op, d.o, " outputs do not split into ", d.groups, " groups");
  KINEMA_CHECK(o.stride.empty() || int(o.stride.size()) == sp, op, "stride needs ", sp, " values");
  KINEMA_CHECK(o.padding.empty() || int(o.padding.size()) == sp, op, "padding needs ", sp, " values");
  KINEMA_CHECK(!o.causal_time || sp == 3, op, "causal time padding is for conv3d");
  int off = 3 - sp;
  for (int i = 0; i < sp; ++i) {
    int a = off + i;
    d.in[a] = x.size(2 + i);
    d.kernel[a] = w.size(2 + i);
    d.stride[a] = o.stride.empty() ? 1 : o.stride[size_t(i)];
    int64_t p = o.padding.empty() ? 0 : o.padding[size_t(i)];
    KINEMA_CHECK(d.stride[a] > 0 && p >= 0, op, "stride must be > 0 and padding >= 0");
    d.pad_l[a] = d.pad_r[a] = p;
    if (o.causal_time && i == 0) {
      d.pad_l[a] = d.kernel[a] - 1;
      d.pad_r[a] = 0;
    }
    int64_t span = d.in[a] + d.pad_l[a] + d.pad_r[a] - d.kernel[a];
    KINEMA_CHECK(span >= 0, op, "kernel ", shape_str(w.shape()), " is larger than the padded input ",
          shape_str(x.shape()));
    d.out[a] = span / d.stride[a] + 1;
  }
  if (b.defined())
    KINEMA_CHECK(b.ndim() == 1 && b.size(0) == d.o, op, "bias must be [", d.o, "]; got ", shape_str(b.shape()));
  d.bias = b.defined();
  return d;
}

Shape out_shape(const ConvDesc& d) {
  Shape s{d.n, d.o};
  for (int i = 3 - d.spatial; i < 3; ++i) s.push_back(d.out[i]);
  return s;
}

Tensor to_dtype(const Tensor& t, DType dt) { return contiguous(cast(t.detach(), dt)); }

void run_pass(ConvDesc d, ConvPass pass, const Tensor& in0, const Tensor& in1, const Tensor& out0,
              const Tensor& out1, const Tensor& bias) {
  if (current_context().reference_kernels()) {
    Tensor a = to_dtype(in0, DType::f32), b = to_dtype(in1, DType::f32);
    const float* bp = bias.defined() ? bias.data<float>() : nullptr;
    if (pass == ConvPass::forward) conv_forward_f32_ref(d, a.data<float>(), b.data<float>(), bp, out0.data<float>());
    else if (pass == ConvPass::backward_data) conv_backward_data_f32_ref(d, a.data<float>(), b.data<float>(), out0.data<float>());
    else conv_backward_weights_f32_ref(d, a.data<float>(), b.data<float>(), out0.data<float>(),
                                       out1.defined() ? out1.data<float>() : nullptr);
    return;
  }
  d.dtype = in0.dtype();
  if (dnnl_conv(d, pass, in0.raw_data(), in1.raw_data(), out0.raw_data(),
                out1.defined() ? out1.raw_data() : nullptr, bias.defined() ? bias.raw_data() : nullptr))
    return;
  KINEMA_CHECK(d.dtype != DType::f32, "conv", "oneDNN has no f32 convolution for this shape");
  ++current_context().impl().slow_fallbacks;
  // No fast bf16 convolution on this CPU: run in f32 and narrow the results.
  auto f32 = [](const Tensor& t) { return t.defined() ? to_dtype(t, DType::f32) : Tensor(); };
  auto like = [](const Tensor& t) { return t.defined() ? Tensor::empty(t.shape()) : Tensor(); };
  Tensor o0 = like(out0), o1 = like(out1);
  d.f32_results = false;
  run_pass(d, pass, f32(in0), f32(in1), o0, o1, f32(bias));
  copy_into(o0, out0);
  if (o1.defined()) copy_into(o1, out1);
}

namespace {

Tensor conv(const char* op, int sp, const Tensor& x, const Tensor& weight, const Tensor& bias,
            const ConvOptions& o) {
  ConvDesc d = describe_conv(op, sp, x, weight, bias, o);
  bool ref = current_context().reference_kernels();
  // bf16 runs in bf16 (f32 accumulation inside oneDNN) where the CPU has bf16 dot products;
  // elsewhere oneDNN emulates bf16 at a fraction of f32 speed, so compute in f32.
  DType dt = !ref && x.dtype() == DType::bf16 && weight.dtype() == DType::bf16 && cpu_has_bf16_dot()
                 ? DType::bf16
                 : DType::f32;
  Tensor xc = to_dtype(x, dt), wc = to_dtype(weight, dt);
  Tensor bc = bias.defined() ? to_dtype(bias, dt) : Tensor();
  Tensor y = Tensor::empty(out_shape(d), ref ? DType::f32 : dt);
  run_pass(d, ConvPass::forward, xc, wc, y, Tensor(), bc);
  Tensor out = cast(y, promote(x.dtype(), weight.dtype()));
  return record(out, op, {x, weight, bias},
                [d, xc, wc, dt, ref, xs = x.shape(), ws = weight.shape(), xt = x.dtype(),
                 wt = weight.dtype(), bt = bias.defined() ? bias.dtype() : DType::f32,
                 has_bias = bias.defined()](const Tensor& g) {
                  DType pass_t = ref ? DType::f32 : dt;
                  Tensor gc = to_dtype(g, pass_t);
                  Tensor dx = Tensor::empty(xs, pass_t);
                  run_pass(d, ConvPass::backward_data, gc, wc, dx, Tensor(), Tensor());
                  // weight gradients accumulate in f32 (bf16 diff weights lose too much)
                  Tensor xf = to_dtype(xc, pass_t);
                  Tensor dw = Tensor::empty(ws, pass_t);
                  Tensor db = has_bias ? Tensor::empty({d.o}, pass_t) : Tensor();
                  run_pass(d, ConvPass::backward_weights, xf, gc, dw, db, Tensor());
                  return std::vector<Tensor>{cast(dx, xt), cast(dw, wt),
                                             has_bias ? cast(db, bt) : Tensor()};
                });
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& o) {
  return conv("conv2d", 2, x, weight, bias, o);
}
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& o) {
  return conv("conv3d", 3, x, weight, bias, o);
}

namespace {

std::vector<OpCase> conv2d_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 1100;
  struct P {
    Shape x, w;
    int64_t stride, pad;
  };
  const P ps[] = {{{2, 3, 9, 11}, {4, 3, 3, 3}, 1, 1},
                  {{1, 4, 10, 8}, {6, 2, 3, 3}, 2, 1},  // groups = 2
                  {{2, 5, 7, 7}, {3, 5, 1, 1}, 1, 0}};
  for (const P& p : ps)
    for (DType t : {DType::f32, DType::bf16}) {
      Tensor x = test_input(p.x, t, seed++), w = test_input(p.w, t, seed++, Layout::contiguous, -0.5f, 0.5f);
      Tensor b = test_input({p.w[0]}, t, seed++);
      ConvOptions o{{p.stride, p.stride}, {p.pad, p.pad}, false};
      OpCase c;
      c.repro = "conv2d(x=" + describe(x) + ", w=" + describe(w) + ", stride=" + std::to_string(p.stride) +
                ", pad=" + std::to_string(p.pad) + ")";
      c.inputs = {x, w, b};
      c.run = [o](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], o); };
      int64_t groups = p.x[1] / p.w[1];
      c.torch = "lambda x, w, b: F.conv2d(x, w, b, stride=" + std::to_string(p.stride) +
                ", padding=" + std::to_string(p.pad) + ", groups=" + std::to_string(groups) + ")";
      c.reduction = double(p.w[1] * p.w[2] * p.w[3]);
      cases.push_back(std::move(c));
    }
  return cases;
}

std::vector<OpCase> conv3d_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 1150;
  for (bool causal : {false, true})
    for (DType t : {DType::f32, DType::bf16}) {
      Tensor x = test_input({1, 3, 5, 6, 7}, t, seed++), w = test_input({4, 3, 3, 3, 3}, t, seed++, Layout::contiguous, -0.5f, 0.5f);
      Tensor b = test_input({4}, t, seed++);
      ConvOptions o{{1, 1, 1}, {causal ? 0 : 1, 1, 1}, causal};
      OpCase c;
      c.repro = std::string("conv3d(x=") + describe(x) + ", w=" + describe(w) + (causal ? ", causal)" : ", pad=1)");
      c.inputs = {x, w, b};
      c.run = [o](const std::vector<Tensor>& in) { return conv3d(in[0], in[1], in[2], o); };
      c.torch = causal ? "lambda x, w, b: F.conv3d(F.pad(x, (1, 1, 1, 1, 2, 0)), w, b)"
                       : "lambda x, w, b: F.conv3d(x, w, b, padding=1)";
      c.reduction = 81;
      cases.push_back(std::move(c));
    }
  // strided downsampling conv as in a VAE encoder
  Tensor x = test_input({1, 2, 4, 8, 8}, DType::f32, seed++), w = test_input({3, 2, 1, 3, 3}, DType::f32, seed++);
  OpCase c;
  c.repro = "conv3d(x=" + describe(x) + ", w=" + describe(w) + ", stride=[1,2,2], pad=[0,1,1], no bias)";
  c.inputs = {x, w};
  c.run = [](const std::vector<Tensor>& in) { return conv3d(in[0], in[1], Tensor(), {{1, 2, 2}, {0, 1, 1}, false}); };
  c.torch = "lambda x, w: F.conv3d(x, w, stride=(1, 2, 2), padding=(0, 1, 1))";
  c.reduction = 18;
  cases.push_back(std::move(c));
  return cases;
}

}  // namespace

extern const OpDef kOpConv2d{"conv2d", conv2d_cases};
extern const OpDef kOpConv3d{"conv3d", conv3d_cases};

}  // namespace kinema
