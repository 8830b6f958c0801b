// cast and contiguous: copies that change dtype or layout. The vjp of a cast is the cast back,
// which is how bf16 compute feeds f32 master weights.
#include "backend/cpu/exec.hpp"
#include "core/quant.hpp"
#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "ops/registry.hpp"

namespace kinema {

Tensor cast(const Tensor& x, DType dtype) {
  KINEMA_CHECK(x.defined(), "cast", "input is undefined");
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.shape(), dtype);
  if (is_quantized(x.dtype())) {
    KINEMA_CHECK(x.is_contiguous(), "cast", "quantized input must be contiguous");
    Tensor f = Tensor::empty(x.shape(), DType::f32);
    dequantize_row(x.raw_data(), f.data<float>(), x.numel(), int(x.dtype()));
    return dtype == DType::f32 ? f : cast(f, dtype);
  }
  if (is_quantized(dtype)) {
    Tensor f = contiguous(cast(x.detach(), DType::f32));
    quantize_row(f.data<float>(), out.raw_data(), x.numel(), int(dtype));
    return out;  // quantized tensors are frozen weights: no gradient
  }
  copy_into(x, out);
  return record(out, "cast", {x}, [from = x.dtype()](const Tensor& g) {
    return std::vector<Tensor>{cast(g, from)};
  });
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  KINEMA_CHECK(!is_quantized(x.dtype()), "contiguous", "quantized tensors are always contiguous");
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  copy_into(x, out);
  return record(out, "contiguous", {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

namespace {

std::vector<OpCase> cast_cases() {
  std::vector<OpCase> cases;
  uint64_t seed = 300;
  for (DType from : {DType::f32, DType::bf16, DType::f16})
    for (DType to : {DType::f32, DType::bf16, DType::f16})
      for (Layout l : {Layout::contiguous, Layout::strided}) {
        Tensor x = test_input({6, 9}, from, seed++, l);
        OpCase c;
        c.repro = "cast(x=" + describe(x) + ", to=" + std::string(dtype_name(to)) + ")";
        c.inputs = {x};
        c.run = [to](const std::vector<Tensor>& in) { return cast(in[0], to); };
        c.torch = "lambda x: x";
        cases.push_back(std::move(c));
      }
  return cases;
}

std::vector<OpCase> contiguous_cases() {
  std::vector<OpCase> cases;
  for (DType t : {DType::f32, DType::bf16}) {
    Tensor x = test_input({5, 3, 8}, t, 320, Layout::strided);
    OpCase c;
    c.repro = "contiguous(x=" + describe(x) + ")";
    c.inputs = {x};
    c.run = [](const std::vector<Tensor>& in) { return contiguous(in[0]); };
    c.torch = "lambda x: x.contiguous()";
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

extern const OpDef kOpCast{"cast", cast_cases};
extern const OpDef kOpContiguous{"contiguous", contiguous_cases};

}  // namespace kinema
