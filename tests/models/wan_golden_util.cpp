#include "wan_golden_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "kinema/ops.hpp"
#include "vae_test_util.hpp"

namespace kinema::test {

TensorFile wan_golden(const char* name) {
  return load_tensors(std::string(KINEMA_SOURCE_DIR) + "/tests/models/wan_golden/" + name);
}

TensorFile golden_weights(const TensorFile& g) {
  TensorFile w;
  w.metadata = g.metadata;
  for (const auto& [k, v] : g.tensors)
    if (k.rfind("input.", 0) && k.rfind("output", 0) && k.rfind("trace.", 0)) w.tensors[k] = v;
  return w;
}

std::vector<float> formula(int64_t n, int64_t k, double amplitude) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(amplitude * std::sin(0.37 * double(i) + 1.3 * double(k) + 0.1));
  return v;
}

TensorFile formula_dit_weights(const DiTConfig& c) {
  std::map<std::string, Shape> shapes;  // sorted by name, as Python's sorted(state_dict)
  for (const auto& [name, shape] : dit_parameter_shapes(c)) shapes[name] = shape;
  TensorFile weights;
  int64_t k = 0;
  for (const auto& [name, shape] : shapes) {
    std::vector<float> w = formula(shape_numel(shape), k++);
    if (shape.size() == 1)
      for (float& x : w) x = float(double(x) + 1.0);
    weights.tensors[name] = Tensor::from_vector(w, shape);
  }
  weights.metadata["num_heads"] = std::to_string(c.num_heads);
  return weights;
}

int expect_traces_match(const TensorFile& g, std::map<std::string, Tensor>& trace, const std::string& label,
                        double tolerance) {
  int compared = 0;
  for (const auto& [name, want] : g.tensors) {
    const bool is_trace = name.rfind("trace.", 0) == 0;
    if (!is_trace && name.rfind("output", 0) != 0) continue;
    const std::string ours = is_trace ? name.substr(6) : name;
    EXPECT_TRUE(trace.count(ours)) << label << ": kinema traces no " << ours;
    if (!trace.count(ours)) continue;
    EXPECT_EQ(trace[ours].numel(), want.numel()) << label << " " << ours;
    if (trace[ours].numel() != want.numel()) continue;
    const double err = max_rel_error(reshape(contiguous(trace[ours]), want.shape()), want);
    std::printf("  %-10s %-24s max error %.2e of its scale\n", label.c_str(), ours.c_str(), err);
    EXPECT_LE(err, tolerance) << label << " " << ours;
    ++compared;
  }
  return compared;
}

}  // namespace kinema::test
