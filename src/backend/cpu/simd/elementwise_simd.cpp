// Elementwise f32 kernels written once with Highway and compiled for every x86 target;
// the best one the CPU supports is picked at run time (tests force each in turn).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/elementwise_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target re-includes this file once per target; the code below is per target.
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include <cmath>

#include "backend/cpu/kernels.hpp"
#include "backend/cpu/simd/exp_nonpositive-inl.h"
#include "backend/cpu/simd/store_row-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Applies f(d, v) over n contiguous floats (d: a full-vector or one-lane tag).
template <class F>
HWY_INLINE void MapUnary(const float* HWY_RESTRICT x, float* HWY_RESTRICT y, int64_t n, F f) {
  const bool stream = n >= kStreamMin;
  StoreRow(y, n, [&](auto dd, int64_t j) { return f(dd, hn::LoadU(dd, x + j)); }, stream);
  if (stream) hwy::FlushStream();
}

// 1 / (1 + exp(z)) from t = exp(-|z|) <= 1, which cannot overflow (Highway's Exp is valid up
// to 104 only: exp(200) made sigmoid(-200) come out 1): 1 / (1 + t) for z <= 0, else t / (1 + t).
template <class D, class V>
HWY_INLINE V Logistic(D d, V z) {
  const auto one = hn::Set(d, 1.f);
  const auto t = ExpNonPositive(d, hn::Or(z, hn::Set(d, -0.f)));  // the sign bit set: -|z|
  return hn::Div(hn::IfThenElse(hn::Gt(z, hn::Zero(d)), t, one), hn::Add(one, t));
}

// exp gives 0 for NaN, so sigmoid passes NaN through itself (silu and GELU
// multiply by x, which does).
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V v) {
  return hn::IfThenElse(hn::IsNaN(v), v, Logistic(d, hn::Neg(v)));
}

// GELU's tanh form through the logistic function, 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)) with
// u = sqrt(2/pi) (x + 0.044715 x^3): one exp and one division, where tanh costs an expm1, a
// division and sign handling.
template <class D, class V>
HWY_INLINE V GeluGate(D d, V x) {
  const auto k2 = hn::Set(d, -2 * 0.7978845608028654f), c = hn::Set(d, 0.044715f);
  return Logistic(d, hn::Mul(k2, hn::MulAdd(hn::Mul(c, x), hn::Mul(x, x), x)));  // z = -2u
}

template <class D, class V>
HWY_INLINE V GeluTanh(D d, V x) {
  return hn::Mul(x, GeluGate(d, x));
}

// d/dx [x s] with s = sigmoid(2u): s + x * 2 s (1 - s) * du/dx, du/dx = k (1 + 3c x^2)
template <class D, class V>
HWY_INLINE V GeluTanhGrad(D d, V x) {
  const auto k2 = hn::Set(d, 2 * 0.7978845608028654f), three_c = hn::Set(d, 3 * 0.044715f);
  const auto one = hn::Set(d, 1.f);
  const auto s = GeluGate(d, x);
  const auto du2 = hn::Mul(k2, hn::MulAdd(three_c, hn::Mul(x, x), one));  // 2 du/dx
  return hn::Mul(s, hn::MulAdd(hn::Mul(x, hn::Sub(one, s)), du2, one));
}

void UnaryF32(UnaryOp op, const float* x, float* y, int64_t n, float p) {
  switch (op) {
    case UnaryOp::neg: return MapUnary(x, y, n, [](auto d, auto v) { return hn::Neg(v); });
    case UnaryOp::exp: return MapUnary(x, y, n, [](auto d, auto v) { return hn::Exp(d, v); });
    case UnaryOp::log: return MapUnary(x, y, n, [](auto d, auto v) { return hn::Log(d, v); });
    case UnaryOp::sqrt: return MapUnary(x, y, n, [](auto d, auto v) { return hn::Sqrt(v); });
    case UnaryOp::rsqrt:
      return MapUnary(x, y, n, [](auto d, auto v) { return hn::Div(hn::Set(d, 1.f), hn::Sqrt(v)); });
    case UnaryOp::square: return MapUnary(x, y, n, [](auto d, auto v) { return hn::Mul(v, v); });
    case UnaryOp::tanh: return MapUnary(x, y, n, [](auto d, auto v) { return hn::Tanh(d, v); });
    case UnaryOp::sigmoid: return MapUnary(x, y, n, [](auto d, auto v) { return Sigmoid(d, v); });
    case UnaryOp::silu:
      return MapUnary(x, y, n, [](auto d, auto v) { return hn::Mul(v, Logistic(d, hn::Neg(v))); });
    case UnaryOp::relu:
      return MapUnary(x, y, n, [](auto d, auto v) { return hn::Max(v, hn::Zero(d)); });
    case UnaryOp::gelu_tanh: return MapUnary(x, y, n, [](auto d, auto v) { return GeluTanh(d, v); });
    case UnaryOp::scale:
      return MapUnary(x, y, n, [p](auto d, auto v) { return hn::Mul(v, hn::Set(d, p)); });
    case UnaryOp::add_scalar:
      return MapUnary(x, y, n, [p](auto d, auto v) { return hn::Add(v, hn::Set(d, p)); });
    case UnaryOp::relu_grad:
      return MapUnary(x, y, n, [](auto d, auto v) {
        return hn::IfThenElseZero(hn::Gt(v, hn::Zero(d)), hn::Set(d, 1.f));
      });
    case UnaryOp::silu_grad:
      return MapUnary(x, y, n, [](auto d, auto v) {
        const auto s = Logistic(d, hn::Neg(v)), one = hn::Set(d, 1.f);
        return hn::Mul(s, hn::MulAdd(v, hn::Sub(one, s), one));
      });
    case UnaryOp::gelu_tanh_grad:
      return MapUnary(x, y, n, [](auto d, auto v) { return GeluTanhGrad(d, v); });
    case UnaryOp::gelu_erf:  // no vector erf in Highway 1.0: scalar libm
      for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.f + std::erf(x[i] * 0.70710678f));
      return;
    case UnaryOp::gelu_erf_grad:
      for (int64_t i = 0; i < n; ++i)
        y[i] = 0.5f * (1.f + std::erf(x[i] * 0.70710678f)) +
               x[i] * std::exp(-0.5f * x[i] * x[i]) * 0.39894228f;
      return;
  }
}

template <class F>
HWY_INLINE void MapBinary(const float* a, int64_t sa, const float* b, int64_t sb, float* out,
                          int64_t n, F f) {
  const bool stream = n >= kStreamMin;
  if (sa == 1 && sb == 1) {
    StoreRow(out, n, [&](auto dd, int64_t j) { return f(hn::LoadU(dd, a + j), hn::LoadU(dd, b + j)); }, stream);
  } else if (sa == 0 && sb == 1) {
    StoreRow(out, n, [&](auto dd, int64_t j) { return f(hn::Set(dd, a[0]), hn::LoadU(dd, b + j)); }, stream);
  } else if (sa == 1 && sb == 0) {
    StoreRow(out, n, [&](auto dd, int64_t j) { return f(hn::LoadU(dd, a + j), hn::Set(dd, b[0])); }, stream);
  } else {
    const hn::CappedTag<float, 1> d1;
    for (int64_t i = 0; i < n; ++i)
      hn::StoreU(f(hn::Set(d1, a[i * sa]), hn::Set(d1, b[i * sb])), d1, out + i);
    return;
  }
  if (stream) hwy::FlushStream();
}

void BinaryF32(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out,
               int64_t n) {
  switch (op) {
    case BinaryOp::add: return MapBinary(a, sa, b, sb, out, n, [](auto x, auto y) { return hn::Add(x, y); });
    case BinaryOp::sub: return MapBinary(a, sa, b, sb, out, n, [](auto x, auto y) { return hn::Sub(x, y); });
    case BinaryOp::mul: return MapBinary(a, sa, b, sb, out, n, [](auto x, auto y) { return hn::Mul(x, y); });
    case BinaryOp::div: return MapBinary(a, sa, b, sb, out, n, [](auto x, auto y) { return hn::Div(x, y); });
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace kinema
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace kinema {
HWY_EXPORT(UnaryF32);
HWY_EXPORT(BinaryF32);

void unary_f32(UnaryOp op, const float* x, float* y, int64_t n, float p) {
  HWY_DYNAMIC_DISPATCH(UnaryF32)(op, x, y, n, p);
}
void binary_f32(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out,
                int64_t n) {
  HWY_DYNAMIC_DISPATCH(BinaryF32)(op, a, sa, b, sb, out, n);
}

int64_t simd_targets_available() {
  int64_t mask = 0;
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) mask |= t;
  return mask;
}
void simd_force_target(int64_t target) { hwy::SetSupportedTargetsForTest(target); }
const char* simd_target_name(int64_t target) { return hwy::TargetName(target); }
}  // namespace kinema
#endif
