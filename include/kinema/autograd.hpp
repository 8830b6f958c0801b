// Reverse-mode autograd over the op table.
// Each differentiable op that sees an input with requires_grad records a Node on its output:
// the node keeps its inputs and a vjp that maps the output's cotangent to one cotangent per
// input, written in kinema ops. backward() walks the nodes in reverse topological order and
// *accumulates* (+=) into the grad of every leaf that requires grad, so micro-batches add up
// until zero_grad().
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kinema/tensor.hpp"

namespace kinema {

struct Node {
  std::string name;                // the op's name, for graph dumps and errors
  std::vector<Tensor> inputs;      // what the cotangents flow to
  // cotangent of the output -> cotangent of each input (undefined where no gradient flows)
  std::function<std::vector<Tensor>(const Tensor& grad_output)> vjp;
};

bool grad_enabled();

// Disables recording on this thread until the scope ends (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool saved_;
};

// Records `node` as the producer of `output` if grad is enabled and any input requires grad.
// Returns output for chaining. Ops call this after computing their forward.
Tensor record(const Tensor& output, const char* name, std::vector<Tensor> inputs,
              std::function<std::vector<Tensor>(const Tensor&)> vjp);

// Back-propagates from `root` with cotangent `grad` (default: ones, which needs a scalar root).
void backward(const Tensor& root, const Tensor& grad = {});

// Gradient checkpointing: runs fn(inputs) without keeping its intermediate activations and
// runs it again during backward to get them. fn must be deterministic.
Tensor checkpoint(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                  const std::vector<Tensor>& inputs);

}  // namespace kinema
