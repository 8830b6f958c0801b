// Elementwise f32 kernels written once with Highway and compiled for every x86 target;
// the best one the CPU supports is picked at run time (tests force each in turn).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd/elementwise_simd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target re-includes this file once per target; the code below is per target.
#include "hwy/contrib/math/math-inl.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"

#include <cmath>

#include "backend/cpu/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace kinema {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Outputs larger than the caches are written with non-temporal stores: a normal store first
// reads the line it overwrites (read-for-ownership), a third more memory traffic than the op
// needs; memcpy avoids it the same way.
constexpr int64_t kStreamMin = int64_t(1) << 20;  // floats (4 MiB)

// Writes out[i] = g(i) for a contiguous run, streaming when the run is large; g(d, i) -> V.
template <class G>
HWY_INLINE void Produce(float* HWY_RESTRICT out, int64_t n, G g, int64_t* done) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  if (n >= kStreamMin) {
    const hn::CappedTag<float, 1> d1;
    for (; i < n && reinterpret_cast<uintptr_t>(out + i) % (N * 4) != 0; ++i)
      hn::StoreU(g(d1, i), d1, out + i);
    for (; i + N <= n; i += N) hn::Stream(g(d, i), d, out + i);
    hwy::FlushStream();
  } else {
    for (; i + N <= n; i += N) hn::StoreU(g(d, i), d, out + i);
  }
  *done = i;
}

// Applies f(d, v) over n contiguous floats; the tail reuses f with a one-lane tag.
template <class F>
HWY_INLINE void MapUnary(const float* HWY_RESTRICT x, float* HWY_RESTRICT y, int64_t n, F f) {
  int64_t i = 0;
  Produce(y, n, [&](auto dd, int64_t j) { return f(dd, hn::LoadU(dd, x + j)); }, &i);
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) hn::StoreU(f(d1, hn::LoadU(d1, x + i)), d1, y + i);
}

template <class D, class V>
HWY_INLINE V Sigmoid(D d, V v) {
  const auto one = hn::Set(d, 1.f);
  return hn::Div(one, hn::Add(one, hn::Exp(d, hn::Neg(v))));
}

template <class D, class V>
HWY_INLINE V GeluTanh(D d, V x) {
  const auto k = hn::Set(d, 0.7978845608028654f), c = hn::Set(d, 0.044715f);
  const auto half = hn::Set(d, 0.5f), one = hn::Set(d, 1.f);
  const auto u = hn::Mul(k, hn::MulAdd(hn::Mul(c, x), hn::Mul(x, x), x));
  return hn::Mul(hn::Mul(half, x), hn::Add(one, hn::Tanh(d, u)));
}

template <class D, class V>
HWY_INLINE V GeluTanhGrad(D d, V x) {
  const auto k = hn::Set(d, 0.7978845608028654f), c = hn::Set(d, 0.044715f);
  const auto half = hn::Set(d, 0.5f), one = hn::Set(d, 1.f), three_c = hn::Set(d, 3 * 0.044715f);
  const auto x2 = hn::Mul(x, x);
  const auto t = hn::Tanh(d, hn::Mul(k, hn::MulAdd(hn::Mul(c, x), x2, x)));
  const auto dt = hn::Mul(hn::NegMulAdd(t, t, one), hn::Mul(k, hn::MulAdd(three_c, x2, one)));
  return hn::MulAdd(hn::Mul(half, x), dt, hn::Mul(half, hn::Add(one, t)));
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
      return MapUnary(x, y, n, [](auto d, auto v) { return hn::Mul(v, Sigmoid(d, v)); });
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
        const auto s = Sigmoid(d, v), one = hn::Set(d, 1.f);
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
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  (void)N;
  if (sa == 1 && sb == 1) {
    Produce(out, n, [&](auto dd, int64_t j) { return f(hn::LoadU(dd, a + j), hn::LoadU(dd, b + j)); }, &i);
    for (; i < n; ++i) hn::StoreU(f(hn::LoadU(d1, a + i), hn::LoadU(d1, b + i)), d1, out + i);
  } else if (sa == 0 && sb == 1) {
    Produce(out, n, [&](auto dd, int64_t j) { return f(hn::Set(dd, a[0]), hn::LoadU(dd, b + j)); }, &i);
    for (; i < n; ++i) hn::StoreU(f(hn::Set(d1, a[0]), hn::LoadU(d1, b + i)), d1, out + i);
  } else if (sa == 1 && sb == 0) {
    Produce(out, n, [&](auto dd, int64_t j) { return f(hn::LoadU(dd, a + j), hn::Set(dd, b[0])); }, &i);
    for (; i < n; ++i) hn::StoreU(f(hn::LoadU(d1, a + i), hn::Set(d1, b[0])), d1, out + i);
  } else {
    for (; i < n; ++i)
      hn::StoreU(f(hn::Set(d1, a[i * sa]), hn::Set(d1, b[i * sb])), d1, out + i);
  }
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
