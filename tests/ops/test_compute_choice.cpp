// --compute auto: the dtype whose timed GEMM is faster, measured once per process.
#include <gtest/gtest.h>

#include "kinema/compute_choice.hpp"
#include "kinema/ops.hpp"

namespace kinema {
namespace {

TEST(ComputeChoice, AutoPicksBf16OnlyWhereItsTimedGemmIsClearlyFaster) {
  const ComputeSpeeds s = measure_compute_speeds();
  EXPECT_GT(s.f32_gflops, 0);
  EXPECT_GT(s.bf16_gflops, 0);
  EXPECT_EQ(faster_compute_dtype(), s.bf16_gflops > 1.15 * s.f32_gflops ? DType::bf16 : DType::f32);
}

TEST(ComputeChoice, SpeedsAreMeasuredOnceSoEveryCallerAgrees) {
  const ComputeSpeeds a = measure_compute_speeds(), b = measure_compute_speeds();
  EXPECT_EQ(a.f32_gflops, b.f32_gflops);
  EXPECT_EQ(a.bf16_gflops, b.bf16_gflops);
  EXPECT_EQ(faster_compute_dtype(), faster_compute_dtype());
}

}  // namespace
}  // namespace kinema
