#include "kinema/autograd.hpp"

#include <unordered_map>
#include <unordered_set>

#include "kinema/error.hpp"
#include "kinema/ops.hpp"

namespace kinema {
namespace {
thread_local bool t_grad_enabled = true;

struct GradModeScope {  // sets grad mode for a scope, restoring it after
  explicit GradModeScope(bool on) : saved(t_grad_enabled) { t_grad_enabled = on; }
  ~GradModeScope() { t_grad_enabled = saved; }
  bool saved;
};

Tensor accumulate(const Tensor& acc, const Tensor& g) {
  if (!acc.defined()) return g;
  return add(acc, g);
}
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : saved_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = saved_; }

Tensor record(const Tensor& output, const char* name, std::vector<Tensor> inputs,
              std::function<std::vector<Tensor>(const Tensor&)> vjp) {
  if (!t_grad_enabled) return output;
  bool any = false;
  for (const Tensor& t : inputs) any = any || t.requires_grad();
  if (!any) return output;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->vjp = std::move(vjp);
  output.set_grad_fn(std::move(node));
  return output;
}

void backward(const Tensor& root, const Tensor& grad) {
  KINEMA_CHECK(root.defined(), "backward", "called on an undefined tensor");
  KINEMA_CHECK(root.requires_grad(), "backward",
        "the tensor does not require grad: no input of its graph had requires_grad set");
  Tensor g0 = grad;
  if (!g0.defined()) {
    KINEMA_CHECK(root.numel() == 1, "backward", "needs an explicit gradient for non-scalar output ",
          shape_str(root.shape()));
    g0 = Tensor::full(root.shape(), 1.f, DType::f32);
  }
  KINEMA_CHECK(g0.shape() == root.shape(), "backward", "gradient shape ", shape_str(g0.shape()),
        " does not match output shape ", shape_str(root.shape()));

  // Post-order DFS over tensors that have a producing node.
  std::vector<Tensor> order;
  std::unordered_set<const TensorImpl*> seen;
  std::vector<std::pair<Tensor, size_t>> stack{{root, 0}};
  seen.insert(root.id());
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    const auto& node = t.grad_fn();
    if (node && next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      if (in.defined() && in.grad_fn() && seen.insert(in.id()).second) stack.push_back({in, 0});
      continue;
    }
    order.push_back(t);
    stack.pop_back();
  }

  GradModeScope no_grad(false);
  std::unordered_map<const TensorImpl*, Tensor> grads;
  grads[root.id()] = g0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Tensor& t = *it;
    auto found = grads.find(t.id());
    if (found == grads.end()) continue;
    Tensor g = std::move(found->second);
    grads.erase(found);
    const auto& node = t.grad_fn();
    if (!node) {  // the root itself is a leaf
      t.set_grad(accumulate(t.grad(), g.dtype() == t.dtype() ? g : cast(g, t.dtype())));
      continue;
    }
    KINEMA_CHECK(bool(node->vjp), "backward", "the graph through '", node->name,
          "' was already freed by an earlier backward");
    std::vector<Tensor> cots = node->vjp(g);
    KINEMA_CHECK(cots.size() == node->inputs.size(), "backward", "vjp of '", node->name, "' returned ",
          cots.size(), " cotangents for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < cots.size(); ++i) {
      const Tensor& in = node->inputs[i];
      if (!in.defined() || !in.requires_grad() || !cots[i].defined()) continue;
      KINEMA_CHECK(cots[i].shape() == in.shape(), "backward", "vjp of '", node->name,
            "' gave cotangent ", shape_str(cots[i].shape()), " for input ", i, " of shape ",
            shape_str(in.shape()));
      if (in.grad_fn()) {
        grads[in.id()] = accumulate(grads[in.id()], cots[i]);
      } else {  // a leaf: accumulate into its grad, in its own dtype
        Tensor c = cots[i].dtype() == in.dtype() ? cots[i] : cast(cots[i], in.dtype());
        in.set_grad(accumulate(in.grad(), c));
      }
    }
    node->vjp = nullptr;  // frees what the forward saved
  }
}

Tensor checkpoint(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                  const std::vector<Tensor>& inputs) {
  Tensor out;
  {
    GradModeScope no_grad(false);
    out = fn(inputs);
  }
  return record(out, "checkpoint", inputs, [fn, inputs](const Tensor& g) {
    std::vector<Tensor> detached;
    for (const Tensor& t : inputs) {
      Tensor d = t.detach();
      if (t.requires_grad()) d.set_requires_grad(true);
      detached.push_back(d);
    }
    GradModeScope with_grad(true);
    Tensor again = fn(detached);
    if (again.requires_grad()) backward(again, g);
    std::vector<Tensor> cots;
    for (const Tensor& d : detached) cots.push_back(d.grad());
    return cots;
  });
}

}  // namespace kinema
