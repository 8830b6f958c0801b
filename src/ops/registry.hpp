// The op table. An op exists only as an OpDef entry: its name and the test cases that the
// harness (tests/ops) runs against the reference kernels, PyTorch and finite differences.
// all_ops() lists every entry (op_table.cpp); the harness fails when one has no case.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kinema/tensor.hpp"

namespace kinema {

struct OpCase {
  std::string repro;                // printable, e.g. "add(a=[3,1,5]:f32, b=[5]:bf16:strided)"
  std::vector<Tensor> inputs;       // tensors the case feeds to `run`
  std::function<Tensor(const std::vector<Tensor>&)> run;
  std::string torch;                // python lambda over float64 torch tensors, same arity
  std::vector<bool> differentiable;  // per input: check its gradient (empty = every float input)
  double reduction = 1;             // length of the longest reduction (scales the tolerance)
  bool finite_differences = true;   // false for ops with kinks near the sampled points
};

struct OpDef {
  const char* name;
  std::vector<OpCase> (*cases)();
};

const std::vector<const OpDef*>& all_ops();

// Case-building helpers (deterministic from seed).
enum class Layout { contiguous, strided };  // strided: a transposed or sliced view of a buffer
Tensor test_input(const Shape& shape, DType dtype, uint64_t seed, Layout layout = Layout::contiguous,
                  float lo = -1.f, float hi = 1.f);
std::string describe(const Tensor& t);  // "[3, 5]:bf16:strided"
// A case of one input: repro "name(x=<describe(x)>)", run f(x).
OpCase unary_case(const std::string& name, const Tensor& x, std::function<Tensor(const Tensor&)> f,
                  std::string torch, double reduction = 1);

}  // namespace kinema
