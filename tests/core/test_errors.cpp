// Bad input gives a kinema::Error that names the op and the shapes, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "kinema/autograd.hpp"
#include "kinema/error.hpp"
#include "kinema/ops.hpp"
#include "kinema/optim.hpp"

namespace kinema {
namespace {

// Runs f, expects an Error whose message contains every needle.
template <typename F>
void expect_error(F f, std::initializer_list<const char*> needles) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const char* n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg;
  }
}

TEST(Errors, ShapeMismatchesNameTheOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
  expect_error([&] { add(a, b); }, {"[add]", "[2, 3]", "[4, 5]"});
  expect_error([&] { matmul(a, b); }, {"[matmul]", "[2, 3]", "[4, 5]"});
  expect_error([&] { linear(a, b); }, {"[linear]", "[2, 3]"});
  expect_error([&] { reshape(a, {7}); }, {"[reshape]", "[2, 3]"});
  expect_error([&] { concat({a, b}, 0); }, {"[concat]"});
  expect_error([&] { layer_norm(a, Tensor::zeros({4}), Tensor()); }, {"[layer_norm]", "[3]"});
  expect_error([&] { group_norm(Tensor::zeros({1, 6, 4}), 4, Tensor(), Tensor()); }, {"[group_norm]", "4 groups"});
  expect_error([&] { conv2d(a, b); }, {"[conv2d]", "[N, C, H, W]"});
  expect_error([&] { attention(Tensor::zeros({1, 2, 3, 8}), Tensor::zeros({1, 2, 3, 4}), Tensor::zeros({1, 2, 3, 4})); },
               {"[attention]"});
  expect_error([&] { slice(a, 1, 2, 5); }, {"[slice]", "[2, 5)"});
  expect_error([&] { embedding(a, {0, 9}, {2}); }, {"[embedding]", "id 9"});
  expect_error([&] { softmax(a, 3); }, {"[softmax]", "axis 3"});
}

TEST(Errors, ImpossibleSizesAreRefusedBeforeAllocating) {
  expect_error([] { Tensor::empty({int64_t(1) << 30, int64_t(1) << 20}); }, {"too large"});
  expect_error([] { Tensor::empty({-1, 3}); }, {"negative"});
  expect_error([] { Tensor::empty({int64_t(1) << 62, 8}); }, {"overflow"});
}

TEST(Errors, QuantizedTensorsAreWeightsOnly) {
  Tensor q = cast(Tensor::zeros({4, 32}), DType::q8_0);
  expect_error([&] { add(q, q); }, {"quantized"});
  expect_error([] { Tensor::zeros({3, 30}, DType::q4_0); }, {"multiple of 32"});
}

TEST(Errors, NonFiniteGradientsAreRefusedByTheOptimizer) {
  Tensor w = Tensor::from_vector({1.f, 2.f}, {2}).set_requires_grad();
  AdamW opt({w});
  backward(sum(mul(w, Tensor::from_vector({NAN, 1.f}, {2}))));
  expect_error([&] { opt.step(); }, {"[AdamW]", "NaN"});
  EXPECT_EQ(w.to_vector(), (std::vector<float>{1.f, 2.f}));  // untouched
}

TEST(Errors, BackwardNeedsAGraph) {
  expect_error([] { backward(Tensor::zeros({1})); }, {"[backward]", "requires_grad"});
  Tensor w = Tensor::zeros({3}).set_requires_grad();
  expect_error([&] { backward(mul(w, w)); }, {"[backward]", "explicit gradient"});
}

}  // namespace
}  // namespace kinema
