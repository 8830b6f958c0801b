// Backend-private parts of a Context. Only src/ sees this header.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/pool.hpp"
#include "kinema/context.hpp"

namespace kinema {

struct DnnlState;  // oneDNN engine, stream and plan cache (backend/cpu/dnnl_plans.cpp)

struct Context::Impl {
  std::shared_ptr<Pool> pool;
  std::unique_ptr<DnnlState, void (*)(DnnlState*)> dnnl{nullptr, nullptr};
  uint64_t plan_hits = 0, plan_misses = 0;
  uint64_t slow_fallbacks = 0;  // oneDNN passes refused and run in f32 instead
};

}  // namespace kinema
