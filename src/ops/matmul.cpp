// matmul and linear on oneDNN. Batch dims broadcast; a batch that only one operand has is
// folded into M when that operand is row-major, so weights meet one large 2-D GEMM.
#include <algorithm>
#include <cmath>

#include "backend/cpu/dnnl_plans.hpp"
#include "backend/cpu/exec.hpp"
#include "backend/cpu/kernels.hpp"
#include "backend/cpu/quant_int8.hpp"
#include "backend/cpu/reduce_exec.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/matmul_f32_out.hpp"
#include "ops/registry.hpp"

namespace kinema {
namespace {

Shape batch_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

bool all_ones(const Shape& s) {
  for (int64_t d : s)
    if (d != 1) return false;
  return true;
}

// A view of t whose batch dims (broadcast to `batch`) collapse to one stride, and whose
// matrix is row- or column-major; copies only when the layout cannot be described.
struct Operand {
  Tensor t;
  int64_t bstride = 0, rstride = 0, cstride = 0;
};

Operand prepare(const Tensor& x, const Shape& batch) {
  Operand o;
  int nd = x.ndim();
  Shape xb = batch_of(x);
  auto matrix_ok = [](const Tensor& t) {
    return t.strides()[size_t(t.ndim() - 1)] == 1 || t.strides()[size_t(t.ndim() - 2)] == 1;
  };
  Tensor t = x;
  if (all_ones(xb)) {
    if (!matrix_ok(t)) t = contiguous(t);
    o.bstride = 0;
  } else {
    Shape full = batch;
    full.push_back(x.shape()[size_t(nd - 2)]);
    full.push_back(x.shape()[size_t(nd - 1)]);
    // batch dims must be this operand's own (not broadcast) and collapsible to one stride
    bool ok = xb.size() == batch.size() && xb == batch && matrix_ok(t);
    for (size_t i = 0; ok && i + 1 < xb.size(); ++i)
      ok = t.strides()[i] == t.strides()[i + 1] * xb[i + 1];
    if (!ok) t = contiguous(expand(t, full));
    o.bstride = t.strides()[size_t(t.ndim() - 3)];
  }
  o.t = t;
  o.rstride = t.strides()[size_t(t.ndim() - 2)];
  o.cstride = t.strides()[size_t(t.ndim() - 1)];
  return o;
}

int64_t numel_of(const Shape& s) { return shape_numel(s); }

// f32_out: bf16 products write f32 (oneDNN's bf16:bf16:f32), not bf16 then a cast. A bias
// (f32 [n], with f32_out) is added by oneDNN when it runs the product: *bias_added says so.
Tensor matmul_forward(const Tensor& a, const Tensor& b, bool f32_out, const float* bias = nullptr,
                      bool* bias_added = nullptr) {
  KINEMA_CHECK(a.ndim() >= 2 && b.ndim() >= 2, "matmul", "needs 2-D or batched operands; got ",
        shape_str(a.shape()), " @ ", shape_str(b.shape()));
  int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  KINEMA_CHECK(b.size(-2) == k, "matmul", "inner dims differ: ", shape_str(a.shape()), " @ ",
        shape_str(b.shape()), " (", k, " vs ", b.size(-2), ")");
  KINEMA_CHECK(!is_quantized(a.dtype()), "matmul", "the left operand cannot be quantized; got ",
        dtype_name(a.dtype()));
  Shape batch = broadcast_shapes(batch_of(a), batch_of(b), "matmul");
  bool bf16 = a.dtype() == DType::bf16 && (b.dtype() == DType::bf16 || is_quantized(b.dtype())) &&
              cpu_has_bf16_dot();
  DType compute = bf16 ? DType::bf16 : DType::f32;
  DType out_t = f32_out ? DType::f32 : is_quantized(b.dtype()) ? a.dtype() : promote(a.dtype(), b.dtype());
  Tensor ac = cast(a.detach(), compute), bc = cast(b.detach(), compute);
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  int64_t nb = numel_of(batch);

  // Fold a's batch into M when b has none and a is row-major across it.
  if (nb > 1 && all_ones(batch_of(b)) && ac.is_contiguous()) {
    ac = ac.as_strided({1, nb * m, k}, {0, k, 1}, ac.offset());
    m *= nb;
    nb = 1;
  }
  Operand pa = prepare(ac, nb == 1 && ac.ndim() == 3 ? Shape{1} : batch);
  Operand pb = prepare(bc, batch);
  MatmulDesc d;
  d.batch = nb;
  d.m = m;
  d.n = n;
  d.k = k;
  d.a_strides[0] = pa.bstride, d.a_strides[1] = pa.rstride, d.a_strides[2] = pa.cstride;
  d.b_strides[0] = pb.bstride, d.b_strides[1] = pb.rstride, d.b_strides[2] = pb.cstride;
  d.ab = compute;
  d.c = compute == DType::bf16 && out_t == DType::bf16 ? DType::bf16 : DType::f32;
  if (out_t == DType::bf16 && compute == DType::f32) out_t = DType::bf16;  // narrowed below
  Tensor out = Tensor::empty(out_shape, d.c);
  if (out.numel() == 0) return cast(out, out_t);
  if (k == 0) return Tensor::zeros(out_shape, out_t);
  if (current_context().reference_kernels()) {
    Tensor af = as_f32_contiguous(pa.t), bfm = as_f32_contiguous(pb.t);
    MatmulDesc r = d;  // the f32 copies are contiguous: recompute strides
    auto strides = [](const Tensor& t, bool batched, int64_t* s) {
      int nd = t.ndim();
      s[0] = batched ? t.strides()[size_t(nd - 3)] : 0;
      s[1] = t.strides()[size_t(nd - 2)];
      s[2] = t.strides()[size_t(nd - 1)];
    };
    strides(af, d.a_strides[0] != 0, r.a_strides);
    strides(bfm, d.b_strides[0] != 0, r.b_strides);
    Tensor of = Tensor::empty(out_shape, DType::f32);
    matmul_f32_ref(r, af.data<float>(), bfm.data<float>(), of.data<float>());
    return cast(of, out_t);
  }
  d.bias = bias != nullptr && d.c == DType::f32 && out_t == DType::f32;
  if (!dnnl_matmul(d, pa.t.raw_data(), pb.t.raw_data(), out.raw_data(), d.bias ? bias : nullptr)) {
    KINEMA_CHECK(compute == DType::bf16, "matmul", "oneDNN rejected an f32 matmul ", shape_str(a.shape()),
          " @ ", shape_str(b.shape()));
    return matmul_forward(cast(a.detach(), DType::f32), cast(b.detach(), DType::f32), f32_out, bias, bias_added);
  }
  if (bias_added) *bias_added = d.bias;
  return cast(out, out_t);
}

}  // namespace

Tensor matmul_f32_out(const Tensor& a, const Tensor& b, const Tensor& bias) {
  KINEMA_CHECK(!bias.defined() || (bias.dtype() == DType::f32 && bias.is_contiguous() && bias.numel() == b.size(-1)),
               "matmul", "the bias must be a contiguous f32 [", b.size(-1), "]");
  bool added = false;
  Tensor y = matmul_forward(a, b, true, bias.defined() ? bias.data<float>() : nullptr, &added);
  if (bias.defined() && !added && y.numel() > 0) {  // the reference kernels, or an empty product
    const int64_t n = b.size(-1), rows = y.numel() / n;
    const float* bp = bias.data<float>();
    float* yp = y.data<float>();
    auto add_rows = current_context().reference_kernels() ? binary_f32_ref : binary_f32;
    parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) add_rows(BinaryOp::add, yp + r * n, 1, bp, 1, yp + r * n, n);
    });
  }
  return y;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor out = matmul_forward(a, b, false);
  return record(out, "matmul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
    Tensor ga = sum_to(matmul(g, transpose(b, -1, -2)), a.shape());
    Tensor gb;
    if (is_quantized(b.dtype())) {
      // frozen weights: no gradient
    } else if (all_ones(batch_of(b)) && a.ndim() > 2) {
      // b is shared across a's batch (a weight): one [K, B*M] @ [B*M, N] GEMM instead of a
      // batched product summed afterwards
      int64_t k = a.size(-1), n = g.size(-1);
      Tensor af = reshape(a, {-1, k}), gf = reshape(g, {-1, n});
      gb = reshape(matmul(transpose(af, 0, 1), gf), b.shape());
    } else {
      gb = sum_to(matmul(transpose(a, -1, -2), g), b.shape());
    }
    if (gb.defined()) gb = cast(gb, b.dtype());
    return std::vector<Tensor>{cast(ga, a.dtype()), gb};
  });
}

namespace {

// Rows of a quantized weight dequantized at a time: at most kPanelBytes in the compute dtype,
// so the scratch stays bounded (a Wan 14B MLP weight would be 283 MB of f32), a multiple of 16
// rows and at least 64. Panels are large on purpose: bench_quant_linear measured cache-sized
// panels (4 MiB, one GEMM of a few hundred columns each) 1.3-1.6x slower than one GEMM over the
// whole dequantized weight at 3,200 tokens on 2 threads; every Wan2.1-1.3B matrix (the largest
// 55 MB in f32) is one panel.
constexpr int64_t kPanelBytes = int64_t(64) << 20;

int64_t panel_rows(int64_t n, int64_t k, int64_t elem) {
  int64_t p = kPanelBytes / std::max<int64_t>(1, k * elem);
  p = std::max<int64_t>(64, p / 16 * 16);
  return std::min(n, p);
}

// y [M, N] = x [M, K] @ w^T for a quantized w [N, K] (f32 or bf16 x, y in the compute dtype).
// Each panel of the weight's rows is dequantized (d * q, exact in f32) by the SIMD kernel on
// every thread into a pooled scratch buffer (no page faults after the first call; never a
// whole f32 copy of a large weight) and meets x in one oneDNN GEMM that writes the panel's
// columns of y. bf16 x computes in bf16 where the CPU has bf16 dot products (the panel rounded
// to bf16, as a cast weight would be), else in f32 like matmul.
Tensor dequantized_linear(const Tensor& x, const Tensor& w, const Shape& out_shape) {
  const int64_t K = w.size(1), N = w.size(0), M = x.numel() / std::max<int64_t>(1, K);
  const bool bf16 = x.dtype() == DType::bf16 && cpu_has_bf16_dot();
  const DType compute = bf16 ? DType::bf16 : DType::f32;
  Tensor xc = contiguous(cast(x.detach(), compute));  // [M, K]
  Tensor y = Tensor::empty(out_shape, compute);        // [M, N]
  if (M > 0 && N > 0) {
    const int64_t P = panel_rows(N, K, int64_t(block_bytes(compute)));
    const int64_t row_bytes = K / kQuantBlock * int64_t(block_bytes(w.dtype()));
    Tensor panel = Tensor::empty({P, K}, DType::f32);                    // [P, K]
    Tensor panel16 = bf16 ? Tensor::empty({P, K}, DType::bf16) : Tensor();  // [P, K]
    const uint8_t* wq = static_cast<const uint8_t*>(w.raw_data());
    const int64_t esize = int64_t(block_bytes(compute));
    for (int64_t n0 = 0; n0 < N; n0 += P) {
      const int64_t p = std::min(P, N - n0);
      parallel_for(p, 4, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          float* row = panel.data<float>() + r * K;
          dequantize_row_f32(wq + (n0 + r) * row_bytes, row, K, w.dtype());
          if (bf16) f32_to_bf16_row(row, reinterpret_cast<uint16_t*>(panel16.raw_data()) + r * K, K);
        }
      });
      MatmulDesc d;
      d.m = M, d.n = p, d.k = K;
      d.a_strides[1] = K, d.a_strides[2] = 1;  // x [M, K] row-major
      d.b_strides[1] = 1, d.b_strides[2] = K;  // the panel [p, K] read as [K, p]
      d.ab = d.c = compute;
      d.c_ld = N;
      KINEMA_CHECK(dnnl_matmul(d, xc.raw_data(), bf16 ? panel16.raw_data() : panel.raw_data(),
                               static_cast<uint8_t*>(y.raw_data()) + n0 * esize),
                   "linear", "oneDNN rejected a ", dtype_name(compute), " GEMM [", M, ", ", K, "] @ [", K, ", ", p, "]");
    }
  }
  return y;
}

// The same product with x quantized to int8 blocks on the fly and integer dot products
// (backend/cpu/quant_int8.hpp; QuantizedLinear::int8): y in f32.
Tensor int8_linear(const Tensor& x, const Tensor& w, const Shape& out_shape) {
  const int64_t K = w.size(1), N = w.size(0), M = x.numel() / std::max<int64_t>(1, K);
  Tensor xc = contiguous(x.detach());              // [M, K] f32 or bf16
  Tensor y = Tensor::empty(out_shape, DType::f32);  // [M, N]
  linear_int8(xc.raw_data(), xc.dtype(), M, K, static_cast<const uint8_t*>(w.raw_data()), w.dtype(), N,
              y.data<float>(), N);
  return y;
}

// Gradient: x's only (quantized weights are frozen), through the dequantized weight.
Tensor quantized_linear(const Tensor& x, const Tensor& w) {
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  out_shape.push_back(w.size(0));
  const bool int8 = current_context().quantized_linear() == QuantizedLinear::int8 && cpu_has_int8_dot();
  Tensor y = int8 ? int8_linear(x, w, out_shape) : dequantized_linear(x, w, out_shape);
  y = cast(y, x.dtype() == DType::bf16 ? DType::bf16 : DType::f32);
  return record(y, "linear", {x}, [w, dt = x.dtype()](const Tensor& g) {
    Tensor wd = cast(w, g.dtype() == DType::bf16 ? DType::bf16 : DType::f32);  // [N, K]
    return std::vector<Tensor>{cast(matmul(g, wd), dt)};
  });
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  KINEMA_CHECK(weight.ndim() == 2, "linear", "weight must be [out, in]; got ", shape_str(weight.shape()));
  KINEMA_CHECK(x.ndim() >= 1 && x.size(-1) == weight.size(1), "linear", "input ", shape_str(x.shape()),
        " does not match weight ", shape_str(weight.shape()), " (in features ", weight.size(1), ")");
  const bool quantized = is_quantized(weight.dtype());
  Tensor x2 = x.ndim() == 1 ? reshape(x, {1, x.size(0)}) : x;
  Tensor y;
  if (quantized && (x.dtype() == DType::f32 || x.dtype() == DType::bf16) && !current_context().reference_kernels()) {
    y = quantized_linear(x2, weight);
  } else {  // the reference: the whole weight dequantized, then matmul
    Tensor w = quantized ? cast(weight, x.dtype() == DType::bf16 ? DType::bf16 : DType::f32) : weight;
    y = matmul(x2, transpose(w, 0, 1));
  }
  if (x.ndim() == 1) y = reshape(y, {weight.size(0)});
  if (bias.defined()) {
    KINEMA_CHECK(bias.ndim() == 1 && bias.size(0) == weight.size(0), "linear", "bias ",
          shape_str(bias.shape()), " does not match ", weight.size(0), " outputs");
    y = add(y, bias.dtype() == y.dtype() ? bias : cast(bias, y.dtype()));
  }
  return y;
}

namespace {

std::vector<OpCase> matmul_cases() {
  struct Sh {
    Shape a, b;
  };
  const Sh shapes[] = {{{7, 13}, {13, 5}},          {{3, 17, 33}, {33, 9}},
                       {{2, 3, 8, 16}, {3, 16, 4}},  {{4, 1, 5, 6}, {1, 3, 6, 7}},
                       {{1, 64}, {64, 130}},         {{65, 70}, {70, 33}}};
  std::vector<OpCase> cases;
  uint64_t seed = 800;
  for (const Sh& s : shapes)
    for (DType t : {DType::f32, DType::bf16})
      for (Layout l : {Layout::contiguous, Layout::strided}) {
        Tensor a = test_input(s.a, t, seed++, l), b = test_input(s.b, t, seed++, l);
        OpCase c;
        c.repro = "matmul(a=" + describe(a) + ", b=" + describe(b) + ")";
        c.inputs = {a, b};
        c.run = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
        c.torch = "lambda a, b: a @ b";
        c.reduction = double(s.a.back());
        cases.push_back(std::move(c));
      }
  return cases;
}

// Each block of 32 values snapped to multiples of max|x| / 127: the values int8 activation
// quantization (backend/cpu/quant_int8.hpp) represents exactly.
Tensor on_int8_grid(const Tensor& x) {
  std::vector<float> v = x.to_vector();
  for (size_t b = 0; b + kQuantBlock <= v.size(); b += kQuantBlock) {
    float amax = 0.f;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(v[b + j]));
    const float step = amax / 127.f;
    for (int j = 0; step > 0.f && j < kQuantBlock; ++j) v[b + j] = std::nearbyint(v[b + j] / step) * step;
  }
  return Tensor::from_vector(v, x.shape());
}

std::vector<OpCase> linear_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 850;
  for (DType t : {DType::f32, DType::bf16})
    for (bool with_bias : {false, true}) {
      Tensor x = test_input({2, 5, 64}, t, seed++), w = test_input({24, 64}, t, seed++);
      Tensor b = test_input({24}, t, seed++);
      OpCase c;
      c.repro = "linear(x=" + describe(x) + ", w=" + describe(w) + (with_bias ? ", bias)" : ")");
      c.inputs = with_bias ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x, w};
      c.run = [](const std::vector<Tensor>& in) {
        return linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor());
      };
      c.torch = with_bias ? "lambda x, w, b: F.linear(x, w, b)" : "lambda x, w: F.linear(x, w)";
      c.reduction = 64;
      cases.push_back(std::move(c));
    }
  // Quantized weights: the oracle sees the dequantized values, the harness no weight gradient.
  // x lies on int8 grids, so the default int8 path (QuantizedLinear::int8) is exact up to f32
  // rounding and meets the harness's f32 bounds like the dequantize path (the reference).
  for (DType q : {DType::q8_0, DType::q4_0}) {
    Tensor x = on_int8_grid(test_input({3, 96}, DType::f32, seed++)), w = test_input({10, 96}, q, seed++);
    OpCase c;
    c.repro = "linear(x=" + describe(x) + ", w=" + describe(w) + ")";
    c.inputs = {x, w};
    c.differentiable = {true, false};
    c.run = [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); };
    c.torch = "lambda x, w: F.linear(x, w)";
    c.reduction = 96;
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

extern const OpDef kOpMatmul{"matmul", matmul_cases};
extern const OpDef kOpLinear{"linear", linear_cases};

}  // namespace kinema
