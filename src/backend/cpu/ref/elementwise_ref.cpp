// Naive elementwise kernels in double precision: the obviously-correct twins of simd/.
#include <cmath>

#include "backend/cpu/kernels.hpp"

namespace kinema {

void binary_f32_ref(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb,
                    float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double x = a[i * sa], y = b[i * sb], r = 0;
    switch (op) {
      case BinaryOp::add: r = x + y; break;
      case BinaryOp::sub: r = x - y; break;
      case BinaryOp::mul: r = x * y; break;
      case BinaryOp::div: r = x / y; break;
    }
    out[i] = float(r);
  }
}

double unary_ref_value(UnaryOp op, double x, double p) {
  constexpr double kSqrt2OverPi = 0.7978845608028654, kC = 0.044715;
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::sqrt: return std::sqrt(x);
    case UnaryOp::rsqrt: return 1 / std::sqrt(x);
    case UnaryOp::square: return x * x;
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::sigmoid: return 1 / (1 + std::exp(-x));
    case UnaryOp::silu: return x / (1 + std::exp(-x));
    case UnaryOp::relu: return x > 0 ? x : 0;
    case UnaryOp::gelu_tanh:
      return 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + kC * x * x * x)));
    case UnaryOp::gelu_erf: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case UnaryOp::scale: return x * p;
    case UnaryOp::add_scalar: return x + p;
    case UnaryOp::relu_grad: return x > 0 ? 1 : 0;
    case UnaryOp::silu_grad: {
      double s = 1 / (1 + std::exp(-x));
      return s * (1 + x * (1 - s));
    }
    case UnaryOp::gelu_tanh_grad: {
      double u = kSqrt2OverPi * (x + kC * x * x * x);
      double t = std::tanh(u);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * kSqrt2OverPi * (1 + 3 * kC * x * x);
    }
    case UnaryOp::gelu_erf_grad:
      return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) +
             x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
  }
  return 0;
}

void unary_f32_ref(UnaryOp op, const float* x, float* y, int64_t n, float p) {
  for (int64_t i = 0; i < n; ++i) y[i] = float(unary_ref_value(op, x[i], p));
}

}  // namespace kinema
