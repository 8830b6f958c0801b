#include "kinema/context.hpp"

#include <omp.h>

#include <cstdlib>
#include <string>

#include "core/context_impl.hpp"
#include "kinema/error.hpp"

namespace kinema {

Context::Context(const ContextOptions& options)
    : reference_kernels_(options.reference_kernels), quantized_linear_(options.quantized_linear),
      impl_(std::make_unique<Impl>()) {
  impl_->pool = std::make_shared<Pool>(options.pool_limit_bytes);
  set_threads(options.threads);
  if (const char* e = std::getenv("KINEMA_QUANT_LINEAR")) {
    const std::string v = e;
    KINEMA_CHECK(v == "int8" || v == "dequantize", "context",
                 "KINEMA_QUANT_LINEAR must be int8 or dequantize; got \"", v, "\"");
    quantized_linear_ = v == "int8" ? QuantizedLinear::int8 : QuantizedLinear::dequantize;
  }
}

Context::~Context() = default;

void Context::set_threads(int n) {
  KINEMA_CHECK(n >= 0, "context", "thread count must be >= 0 (0 = all cores); got ", n);
  threads_ = n == 0 ? omp_get_max_threads() : n;  // 0: OMP_NUM_THREADS, else all cores
}

ContextStats Context::stats() const {
  ContextStats s;
  s.plan_hits = impl_->plan_hits;
  s.plan_misses = impl_->plan_misses;
  s.slow_fallbacks = impl_->slow_fallbacks;
  s.pool_hits = impl_->pool->hits();
  s.pool_misses = impl_->pool->misses();
  s.pool_bytes = impl_->pool->cached_bytes();
  return s;
}

namespace {
Context& default_context() {
  static Context ctx;  // process-wide default; others are made current with ContextScope
  return ctx;
}
thread_local Context* t_current = nullptr;
}  // namespace

Context& current_context() { return t_current ? *t_current : default_context(); }

ContextScope::ContextScope(Context& ctx) : previous_(t_current) { t_current = &ctx; }
ContextScope::~ContextScope() { t_current = previous_; }

}  // namespace kinema
