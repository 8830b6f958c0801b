// Kernel threads flush denormal floats to zero (core/denormals.hpp): an FMA on a denormal is
// ~100x slower on x86, and backward passes make them.
#include <gtest/gtest.h>
#include <omp.h>

#include <thread>
#include <vector>

#include "core/denormals.hpp"
#include "kinema/context.hpp"
#include "kinema/ops.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace kinema {
namespace {

constexpr float kDenormal = 1e-39f;  // below FLT_MIN (1.18e-38)

// Runs fn on a new thread whose flush bits start cleared, as a thread of a program that
// never asked for them would.
template <typename F>
void on_fresh_thread(F fn) {
  std::thread t([&] {
    _mm_setcsr(_mm_getcsr() & ~0x8040u);
    ASSERT_FALSE(denormals_flushed_on_this_thread());
    fn();
  });
  t.join();
}

TEST(Denormals, AMatmulFlushesThemOnTheCallerAndEveryTeamThread) {
  on_fresh_thread([] {
    ContextOptions o;
    o.threads = 2;
    Context ctx(o);
    ContextScope scope(ctx);
    Tensor a = Tensor::full({64, 96}, 0.5f), b = Tensor::full({96, 80}, 0.25f);
    Tensor c = matmul(a, b);
    EXPECT_FLOAT_EQ(c.to_vector()[0], 96 * 0.125f);
    EXPECT_TRUE(denormals_flushed_on_this_thread());
    std::vector<int> flushed(2, 0);
#pragma omp parallel num_threads(2)
    flushed[size_t(omp_get_thread_num())] = denormals_flushed_on_this_thread();
    EXPECT_EQ(flushed, (std::vector<int>{1, 1}));
  });
}

TEST(Denormals, ADenormalOperandCountsAsZero) {
  on_fresh_thread([] {
    // Without the flush, 16 x 1e-39 = 1.6e-38 is a normal float and would come out.
    Tensor a = Tensor::full({1, 16}, kDenormal), b = Tensor::full({16, 1}, 1.f);
    EXPECT_EQ(matmul(a, b).to_vector()[0], 0.f);
    Tensor x = Tensor::full({1000}, kDenormal);
    for (float v : mul(x, Tensor::scalar(64.f)).to_vector()) ASSERT_EQ(v, 0.f);
  });
}

TEST(Denormals, ElementwiseKernelsFlushTheirThreads) {
  on_fresh_thread([] {
    Tensor x = Tensor::full({4096}, 1.5f);
    EXPECT_FLOAT_EQ(add(x, x).to_vector()[7], 3.f);
    EXPECT_TRUE(denormals_flushed_on_this_thread());
  });
}

}  // namespace
}  // namespace kinema
#endif
