// The op harness: every op in the table x its cases, checked four ways —
//   fast kernels (on every SIMD target this CPU runs) against the reference kernels,
//   the forward against PyTorch in float64,
//   the gradients against PyTorch's autograd,
//   the gradients against central finite differences (f32 cases).
// Comparisons use the normalised MSE sum((a-b)^2)/sum(b^2) against a bound derived from the
// dtypes and the reduction length. Every failure prints the case's repro string.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "backend/cpu/kernels.hpp"
#include "kinema/autograd.hpp"
#include "kinema/context.hpp"
#include "kinema/ops.hpp"
#include "op_oracle.hpp"
#include "ops/registry.hpp"

namespace kinema {
namespace {

double eps_of(DType t) {
  switch (t) {
    case DType::bf16: return 1.0 / 128;
    case DType::f16: return 1.0 / 1024;
    default: return 1.2e-7;
  }
}

double nmse(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  if (a.size() != b.size()) return INFINITY;
  if (std::isnan(num)) return INFINITY;
  return den > 0 ? num / den : num;
}

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Bound for one comparison: rounding of the coarsest dtype involved, plus f32 accumulation
// error growing with the reduction length.
double bound(DType coarse, double reduction, double factor) {
  double e = factor * eps_of(coarse), f = 4 * 1.2e-7 * reduction;
  return e * e + f * f + 1e-14;
}

// A gradient sums the cotangent over every output element its input broadcast to.
double grad_reduction(const OpCase& c, const Tensor& out, size_t i) {
  double fan = double(out.numel()) / double(std::max<int64_t>(1, c.inputs[i].numel()));
  return std::max(c.reduction, fan);
}

DType coarsest(const OpCase& c, DType out) {
  DType worst = out;
  for (const Tensor& t : c.inputs)
    if (eps_of(t.dtype()) > eps_of(worst)) worst = t.dtype();
  return worst;
}

std::vector<bool> diff_mask(const OpCase& c) {
  if (!c.differentiable.empty()) return c.differentiable;
  std::vector<bool> m;
  for (const Tensor& t : c.inputs) m.push_back(!is_quantized(t.dtype()));
  return m;
}

Tensor cotangent_for(const Tensor& out, uint64_t seed) {
  return test_input(out.shape(), DType::f32, seed, Layout::contiguous);
}

// Leaf copies of the inputs (same values and layout) that record gradients.
std::vector<Tensor> leaves(const OpCase& c, const std::vector<bool>& mask) {
  std::vector<Tensor> in;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor t = c.inputs[i].detach();
    if (mask[i]) t.set_requires_grad(true);
    in.push_back(t);
  }
  return in;
}

struct OpCases {
  const OpDef* op = nullptr;
  std::vector<OpCase> cases;
  std::map<std::string, test::OracleResult> torch;
  std::map<std::string, Tensor> cotangents;
};

std::string case_id(const OpDef* op, size_t i) { return std::string(op->name) + "_" + std::to_string(i); }

// Builds one op's cases and asks PyTorch about all of them in one python3 run.
OpCases load_cases(const OpDef* op) {
  OpCases a;
  a.op = op;
  a.cases = op->cases();
  std::vector<test::OracleCase> oracle;
  for (size_t i = 0; i < a.cases.size(); ++i) {
    NoGradGuard ng;
    Tensor out = a.cases[i].run(a.cases[i].inputs);
    test::OracleCase oc{case_id(op, i), a.cases[i].torch, a.cases[i].inputs,
                        diff_mask(a.cases[i]), cotangent_for(out, 9000 + i)};
    a.cotangents[oc.id] = oc.cotangent;
    oracle.push_back(std::move(oc));
  }
  if (!oracle.empty()) a.torch = test::run_torch_oracle(oracle);
  return a;
}

class OpHarness : public ::testing::TestWithParam<std::string> {};

void check_case(const OpDef* op, size_t index, const OpCase& c, const OpCases& all) {
  SCOPED_TRACE("repro: " + c.repro);
  std::string id = case_id(op, index);
  std::vector<bool> mask = diff_mask(c);

  // 1. fast kernels on every SIMD target vs reference kernels, forward and backward
  const Tensor& cot0 = all.cotangents.at(id);
  auto run_with_grads = [&](std::vector<std::vector<float>>* grads) {
    std::vector<Tensor> in = leaves(c, mask);
    Tensor out = c.run(in);
    if (out.requires_grad()) {
      backward(out, cot0);
      for (size_t i = 0; i < in.size(); ++i)
        grads->push_back(mask[i] && in[i].grad().defined() ? in[i].grad().to_vector() : std::vector<float>{});
    }
    return out;
  };
  std::vector<std::vector<float>> ref_grads;
  Tensor ref_out;
  {
    ReferenceKernelsScope use_ref;
    ref_out = run_with_grads(&ref_grads);
  }
  std::vector<double> ref_vals = widen(ref_out.to_vector());
  int64_t targets = simd_targets_available();
  for (int64_t bit = 1; bit != 0 && bit <= targets; bit <<= 1) {
    if (!(targets & bit)) continue;
    simd_force_target(bit);
    std::vector<std::vector<float>> grads;
    Tensor out = run_with_grads(&grads);
    DType coarse = coarsest(c, out.dtype());
    EXPECT_LE(nmse(out.to_vector(), ref_vals), bound(coarse, c.reduction, 2))
        << "fast vs reference on SIMD target " << simd_target_name(bit);
    ASSERT_EQ(grads.size(), ref_grads.size());
    for (size_t i = 0; i < grads.size(); ++i)
      EXPECT_LE(nmse(grads[i], widen(ref_grads[i])), bound(coarse, grad_reduction(c, out, i), 8))
          << "gradient of input " << i << ", fast vs reference on SIMD target " << simd_target_name(bit);
  }
  simd_force_target(0);

  // 2. forward and 3. gradients against PyTorch
  const test::OracleResult& tr = all.torch.at(id);
  ASSERT_TRUE(tr.ok) << "torch oracle failed for " << c.torch << ":\n" << tr.error;
  std::vector<Tensor> in = leaves(c, mask);
  Tensor out = c.run(in);
  EXPECT_EQ(out.numel(), int64_t(tr.output.size()));
  DType coarse = coarsest(c, out.dtype());
  EXPECT_LE(nmse(out.to_vector(), tr.output), bound(coarse, c.reduction, 2)) << "forward vs torch";
  const Tensor& cot = all.cotangents.at(id);
  bool any = false;
  for (size_t i = 0; i < in.size(); ++i) any = any || mask[i];
  if (!any || !out.requires_grad()) return;
  backward(out, cot);
  for (size_t i = 0; i < in.size(); ++i) {
    if (!mask[i]) continue;
    Tensor g = in[i].grad();
    ASSERT_TRUE(g.defined()) << "no gradient reached input " << i;
    EXPECT_EQ(g.shape(), in[i].shape());
    EXPECT_LE(nmse(g.to_vector(), tr.grads[i]), bound(coarse, grad_reduction(c, out, i), 8))
        << "gradient of input " << i << " vs torch";
  }

  // 4. finite differences along a random direction (all-f32 cases only)
  bool all_f32 = out.dtype() == DType::f32;
  for (const Tensor& t : c.inputs) all_f32 = all_f32 && t.dtype() == DType::f32;
  if (!c.finite_differences || !all_f32) return;
  std::vector<float> cv = cot.to_vector();
  auto loss = [&](const std::vector<Tensor>& x) {
    NoGradGuard ng;
    std::vector<float> y = c.run(x).to_vector();
    double s = 0;
    for (size_t k = 0; k < y.size(); ++k) s += double(y[k]) * cv[k];
    return s;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    if (!mask[i]) continue;
    std::vector<float> x0 = c.inputs[i].to_vector(), dir = test_input(c.inputs[i].shape(), DType::f32, 77 + i).to_vector();
    const float h = 1e-3f;
    auto shifted = [&](float s) {
      std::vector<float> v(x0);
      for (size_t k = 0; k < v.size(); ++k) v[k] += s * dir[k];
      std::vector<Tensor> xs = c.inputs;
      xs[i] = Tensor::from_vector(v, c.inputs[i].shape());
      return xs;
    };
    double fd = (loss(shifted(h)) - loss(shifted(-h))) / (2 * h);
    std::vector<float> g = in[i].grad().to_vector();
    double an = 0, scale_ = 0;
    for (size_t k = 0; k < g.size(); ++k) {
      an += double(g[k]) * dir[k];
      scale_ += std::fabs(double(g[k]) * dir[k]);
    }
    EXPECT_NEAR(fd, an, 1e-2 * scale_ + 2e-3) << "finite differences, input " << i;
  }
}

TEST_P(OpHarness, MatchesReferenceTorchAndFiniteDifferences) {
  for (const OpDef* op : all_ops()) {
    if (op->name != GetParam()) continue;
    OpCases all = load_cases(op);
    ASSERT_FALSE(all.cases.empty()) << "op " << op->name << " has no test case";
    for (size_t i = 0; i < all.cases.size(); ++i) check_case(op, i, all.cases[i], all);
    return;
  }
  FAIL() << "op not in the table";
}

std::vector<std::string> op_names() {
  std::vector<std::string> n;
  for (const OpDef* op : all_ops()) n.push_back(op->name);
  return n;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpHarness, ::testing::ValuesIn(op_names()),
                         [](const auto& info) { return info.param; });

TEST(OpTable, EveryOpHasCasesAndTheTableIsNotEmpty) {
  size_t total = 0;
  for (const OpDef* op : all_ops()) {
    size_t n = op->cases().size();
    EXPECT_GT(n, 0u) << op->name << " has no case";
    total += n;
  }
  EXPECT_GT(all_ops().size(), 20u);
  EXPECT_GT(total, 100u);
}

}  // namespace
}  // namespace kinema
