// Shared by the parity tests against Wan's own code (test_wan_official_parity.cpp for Wan2.1,
// test_wan22_official_parity.cpp for Wan2.2): reading tests/models/wan_golden/ and the
// formula weights make_goldens.py writes instead of storing them.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kinema/dit.hpp"
#include "kinema/tensor_file.hpp"

namespace kinema::test {

// tests/models/wan_golden/<name>
TensorFile wan_golden(const char* name);
// The model's own tensors: everything that is neither an input, an output nor a trace.
TensorFile golden_weights(const TensorFile& golden);
// make_goldens.py's formula(): amplitude · sin(0.37 i + 1.3 k + 0.1), i < n.
std::vector<float> formula(int64_t n, int64_t k, double amplitude = 0.1);
// make_goldens.formula_weights() of a DiT: tensor k of the name-sorted state_dict is
// formula(numel, k), plus 1 for 1-D tensors; metadata num_heads.
TensorFile formula_dit_weights(const DiTConfig& config);
// Compares every "trace.X" (and "output") of the golden with trace[X] by max error relative to
// the golden's scale, prints each and expects <= tolerance; returns how many were compared.
int expect_traces_match(const TensorFile& golden, std::map<std::string, Tensor>& trace, const std::string& label,
                        double tolerance);

}  // namespace kinema::test
